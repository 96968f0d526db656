package main

import "syscall"

// childAttr makes the kernel signal a server process when this one dies,
// so that an interrupted bench leaves no server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
