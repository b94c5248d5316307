module github.com/cc-tsa/cc-tsa/test

go 1.26.0

require golang.org/x/crypto v0.58.0
