//go:build !unix

package main

// setUmask is a no-op where there is no umask.
func setUmask(m int) int { return 0 }

// currentUmask returns 0 where there is no umask.
func currentUmask() int { return 0 }
