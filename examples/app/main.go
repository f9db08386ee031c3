// Command hello is the example program of rules_repro: a static binary that
// says where it runs.
package main

import (
	"os"
	"runtime"
)

func main() {
	os.Stdout.WriteString("Hello from a reproducible image (" + runtime.GOOS + "/" + runtime.GOARCH + ")!\n")
}
