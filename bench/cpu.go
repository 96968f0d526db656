package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// The machine's cores are shared, with whatever else runs on it. The bench
// counts the CPU time the whole machine spent busy during the run and the
// time its own processes spent, so that the report says how much went to
// others: numbers taken while something else was busy are lower.

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// machineBusy returns the CPU time, in ticks, that all cores together
// spent on anything but idling since boot, from /proc/stat; -1 if it
// cannot be read.
func machineBusy() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		// user nice system idle iowait irq softirq steal guest guest_nice:
		// idle and iowait are not busy, and guest time is in user already.
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return busy
}

// processCPU returns the CPU time, in ticks, that process pid has used, all
// its threads together but not its children; -1 if it cannot be read.
func processCPU(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis, where field 3 (state) starts.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	var t int64
	for _, v := range f[11:13] { // utime and stime: fields 14 and 15
		n, _ := strconv.ParseInt(v, 10, 64)
		t += n
	}
	return t
}
