module github.com/cc-tsa/cc-tsa/test

go 1.26
