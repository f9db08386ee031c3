//go:build !linux

package testenv

import "os/exec"

// dieWithParent is a no-op where the kernel has no parent-death signal;
// t.Cleanup still stops the process.
func dieWithParent(cmd *exec.Cmd) {}
