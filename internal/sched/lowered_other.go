//go:build !linux

package sched

func lowerThread(int) {}

func threadNice() (int, bool) { return 0, false }
