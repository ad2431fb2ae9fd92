package main

import (
	"os"
	"testing"
)

func TestReadProc(t *testing.T) {
	pid := os.Getpid()
	if rss, err := readRSS(pid); err != nil || rss <= 0 {
		t.Errorf("readRSS(self) = %d, %v, want > 0, nil", rss, err)
	}
	if cpu, err := readCPU(pid); err != nil || cpu < 0 {
		t.Errorf("readCPU(self) = %v, %v, want >= 0, nil", cpu, err)
	}
	const noSuchPID = 1 << 30 // above pid_max
	if _, err := readRSS(noSuchPID); err == nil {
		t.Errorf("readRSS(%d) = nil error, want one", noSuchPID)
	}
}
