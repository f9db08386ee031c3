module github.com/rules-repro/rules_repro

go 1.25.0

toolchain go1.26.8

require (
	github.com/klauspost/compress v1.19.2
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.1
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/google/go-containerregistry v0.22.1
	golang.org/x/sync v0.22.0 // indirect
)
