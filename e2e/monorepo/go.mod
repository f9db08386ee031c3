// The monorepo's Go code is built by Bazel (rules_go), not by the go
// command; this file keeps it out of rules_repro's module (go test ./...,
// go vet ./...) and names the import paths of its BUILD files.
module example.com/monorepo

go 1.19
