/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/e2e"
)

// memoryRun is the memory child's part.
const memoryRun = "memory"

// runMemory scales one MachineDeployment through s.Memory with the budgets off (the manager's and the
// simulator's) and 1 s boots, and records the manager's peak RSS and CPU time with each count Running.
func runMemory(s settings) ([]memoryStep, error) {
	logf := func(format string, args ...any) { logf(memoryRun, format, args...) }
	var h *e2e.Harness
	err := busy(phaseStart, func() error {
		var err error
		if h, err = e2e.Start(e2e.Options{BootDelay: time.Second, ProductionDefaults: true, Logf: logf}); err != nil {
			return err
		}
		flags := []string{"--vpsie-api-requests-per-minute", "60000", "--vpsie-api-burst", "1000"}
		if profile := os.Getenv("BENCH_PROFILE"); profile != "" {
			flags = append(flags, "--profiler-address", profile)
		}
		h.Provider.SetExtraFlags(flags)
		return h.RestartProvider()
	})
	if h != nil {
		defer h.Stop()
	}
	if err != nil {
		return nil, err
	}
	var steps []memoryStep
	err = busy(phaseMemory, func() error {
		var err error
		steps, err = memorySteps(h, s, logf)
		return err
	})
	return steps, err
}

// memorySteps brings the counts of s.Memory up, one after the other, recording the footprint at each.
func memorySteps(h *e2e.Harness, s settings, logf func(string, ...any)) ([]memoryStep, error) {
	ctx := context.Background()
	ns, err := h.CreateNamespace(ctx, "bench-memory")
	if err != nil {
		return nil, err
	}
	c, err := h.CreateCluster(ctx, ns, "memory", e2e.ClusterOptions{})
	if err != nil {
		return nil, err
	}
	if err := h.MarkControlPlaneInitialized(ctx, c); err != nil {
		return nil, err
	}
	md, err := h.CreateMachineDeployment(ctx, c, "pool", ptr.To[int32](0), nil)
	if err != nil {
		return nil, err
	}
	time.Sleep(10 * time.Second) // the cluster settles: step 0 is the idle manager
	steps := []memoryStep{footprint(h, 0, 0)}
	for _, n := range s.Memory {
		logf("scaling to %d", n)
		start := time.Now()
		if err := h.ScaleMachineDeployment(ctx, md, int32(n)); err != nil {
			return steps, err
		}
		if _, err := h.WaitMachinesRunningWithin(ctx, c, "", n, 5*time.Minute+time.Duration(n)*time.Second); err != nil {
			return steps, fmt.Errorf("scaling to %d: %w", n, err)
		}
		step := footprint(h, n, time.Since(start))
		logf("%d machines Running after %.0fs: peak RSS %.1f MiB, %.1f CPU seconds", n, step.UpSeconds, step.PeakRSSMiB, step.CPUSeconds)
		steps = append(steps, step)
	}
	if profile := os.Getenv("BENCH_PROFILE"); profile != "" {
		if err := saveHeapProfile(profile, filepath.Join("bin", "bench-heap.pprof")); err != nil {
			logf("no heap profile: %v", err)
		}
	}
	return steps, nil
}

func footprint(h *e2e.Harness, n int, up time.Duration) memoryStep {
	pid := h.Provider.PID()
	return memoryStep{N: n, PeakRSSMiB: peakRSSMiB(pid), CPUSeconds: cpuSeconds(pid), UpSeconds: up.Seconds()}
}

// cpuSeconds is a process's user plus system CPU time, 0 when it cannot be read.
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64) // field 14
	stime, _ := strconv.ParseFloat(f[12], 64) // field 15
	const clockTicks = 100                    // USER_HZ on Linux
	return (utime + stime) / clockTicks
}

// saveHeapProfile writes the manager's heap profile (BENCH_PROFILE: its --profiler-address) to path, for
// go tool pprof.
func saveHeapProfile(address, path string) error {
	resp, err := http.Get("http://" + address + "/debug/pprof/heap")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiler answered %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
