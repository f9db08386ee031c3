//go:build unix

package main

import "syscall"

// setUmask sets the process umask and returns the previous one.
func setUmask(m int) int { return syscall.Umask(m) }

// currentUmask returns the process umask.
func currentUmask() int {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return m
}
