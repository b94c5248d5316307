module github.com/cc-tsa/cc-tsa/infra

go 1.26
