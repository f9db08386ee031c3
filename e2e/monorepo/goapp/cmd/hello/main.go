// Command hello prints the greeting of the greeting library.
package main

import (
	"fmt"
	"os"
	"runtime"

	"example.com/monorepo/goapp/greeting"
)

func main() {
	msg, err := greeting.Message()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	fmt.Printf("go %s/%s: %s\n", runtime.GOOS, runtime.GOARCH, msg)
}
