// Package greeting reads its greeting from a data file in the runfiles.
package greeting

import (
	"fmt"
	"os"
	"strings"

	"github.com/bazelbuild/rules_go/go/tools/bazel"
)

// Message returns the greeting and where it was read from.
func Message() (string, error) {
	path, err := bazel.Runfile("goapp/greeting/greeting.txt")
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (read from %s)", strings.TrimSpace(string(b)), path), nil
}
