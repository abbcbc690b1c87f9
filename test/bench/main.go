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

// Command bench (make bench) measures what the provider costs: VPSie API calls per machine lifecycle, time to
// scale a MachineDeployment up and down against its floor, 429s received, requests per minute while machines
// are idle, and requests by route. It runs the e2e harness (a local management cluster, Cluster API's
// controllers, the VPSie simulator) with the provider's manager as its own process at its production defaults,
// against a simulator that holds a per-minute budget and boots servers slowly, once per polling design: the
// shared VM list (production) and --per-machine-polling (the design most providers use), side by side.
//
// Settings come from the environment:
//
//	BENCH_N       machine counts, comma separated (default 10,30,100; BENCH_FULL=1 adds 300)
//	BENCH_IDLE    how long N machines stay idle for the steady-state figure (default 5m)
//	BENCH_BOOT    the simulator's boot delay (default 30s)
//	BENCH_DELETE  how long a deleted server stays listed (default 5s)
//	BENCH_BUDGET  the simulator's requests per minute (default 100, VPSie's)
//	BENCH_DESIGNS shared,per-machine (default both)
//	BENCH_MEMORY  machine counts of the memory run, budgets off and 1 s boots (default 100,300,1000; 0 skips it)
//
// Each design runs in a process of its own, at the same time as the other (Cluster API's controllers start
// once per process, and the idle phases dominate the run's length); each has its own management cluster,
// simulator and budget. It prints one table and writes it as JSON to bin/bench.json. Goals are printed as PASS or FAIL lines; nothing
// is asserted: this is a measurement, outside make test.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/ptr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/e2e"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// settings are the benchmark's inputs.
type settings struct {
	Ns      []int         `json:"n"`
	Idle    time.Duration `json:"idle"`
	Boot    time.Duration `json:"bootDelay"`
	Delete  time.Duration `json:"deleteDelay"`
	Budget  int           `json:"budgetPerMinute"`
	Designs []string      `json:"designs"`
	Memory  []int         `json:"memory"`
}

// lifecycle is what one N cost in one design.
type lifecycle struct {
	N                 int            `json:"n"`
	UpSeconds         float64        `json:"upSeconds"`
	UpFloorSeconds    float64        `json:"upFloorSeconds"`
	DownSeconds       float64        `json:"downSeconds"`
	DownFloorSeconds  float64        `json:"downFloorSeconds"`
	CallsUp           int            `json:"callsUp"`
	CallsDown         int            `json:"callsDown"`
	CallsPerMachine   float64        `json:"callsPerMachine"`
	RateLimited       int            `json:"rateLimited"`
	IdlePerMinute     float64        `json:"idleRequestsPerMinute"`
	ManagerPeakRSSMiB float64        `json:"managerPeakRSSMiB"`
	ByRoute           map[string]int `json:"byRoute"`
}

func (l lifecycle) upRatio() float64   { return l.UpSeconds / l.UpFloorSeconds }
func (l lifecycle) downRatio() float64 { return l.DownSeconds / l.DownFloorSeconds }

// design is one polling design's run.
type design struct {
	Name       string      `json:"name"`
	Lifecycles []lifecycle `json:"lifecycles"`
}

// memoryStep is the manager's footprint with N machines Running, budgets off.
type memoryStep struct {
	N          int     `json:"n"`
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
	UpSeconds  float64 `json:"upSeconds"`
}

type report struct {
	Settings settings     `json:"settings"`
	Designs  []design     `json:"designs"`
	Memory   []memoryStep `json:"memory,omitempty"`
	Goals    []string     `json:"goals"`
}

func main() {
	ctrllog.SetLogger(logr.Discard()) // Cluster API's in-process controllers: their logs are not the benchmark's
	s, err := readSettings()
	if err != nil {
		fail(err)
	}
	if out := os.Getenv(childOutput); out != "" && os.Getenv("BENCH_DESIGNS") == memoryRun {
		steps, err := runMemory(s)
		if err != nil {
			fail(fmt.Errorf("memory run: %w", err))
		}
		if err := writeFile(out, steps); err != nil {
			fail(err)
		}
		return
	}
	if out := os.Getenv(childOutput); out != "" {
		// A child: one design, its result to the file the parent named.
		d, err := runDesign(s, s.Designs[0])
		if err != nil {
			fail(fmt.Errorf("design %s: %w", s.Designs[0], err))
		}
		if err := writeFile(out, d); err != nil {
			fail(err)
		}
		return
	}
	rep := report{Settings: s}
	designs, err := runChildren(s)
	if err != nil {
		fail(err)
	}
	rep.Designs = designs
	if len(s.Memory) > 0 {
		// After the designs, alone: a thousand machines would distort their timings.
		if err := runChild(memoryRun, &rep.Memory); err != nil {
			fail(err)
		}
	}
	rep.Goals = goals(rep)
	printTable(rep)
	if err := writeJSON(rep); err != nil {
		fail(err)
	}
}

// childOutput names, in a child's environment, the file it writes its design's result to.
const childOutput = "BENCH_CHILD_OUTPUT"

// runChildren runs each design in a child process (this program again), all at once, and collects the results
// in the order of s.Designs.
func runChildren(s settings) ([]design, error) {
	out := make([]design, len(s.Designs))
	errs := make([]error, len(s.Designs))
	var wg sync.WaitGroup
	for i, name := range s.Designs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runChild(name, &out[i])
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// runChild runs this program again for one part of the benchmark (a design, or the memory run: BENCH_DESIGNS)
// and decodes what it wrote into result.
func runChild(part string, result any) error {
	dir, err := os.MkdirTemp("", "capv-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	file := filepath.Join(dir, part+".json")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BENCH_DESIGNS="+part, childOutput+"="+file)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", part, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, result); err != nil {
		return fmt.Errorf("%s: %w", part, err)
	}
	return nil
}

// runDesign measures one design on a management cluster of its own.
func runDesign(s settings, name string) (design, error) {
	h, err := e2e.Start(e2e.Options{BootDelay: s.Boot, DeleteDelay: s.Delete, ProductionDefaults: true,
		Logf: func(format string, args ...any) { logf(name, format, args...) }})
	if err != nil {
		return design{}, err
	}
	defer h.Stop()
	return run(h, s, name)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func readSettings() (settings, error) {
	s := settings{Ns: []int{10, 30, 100}, Idle: 5 * time.Minute, Boot: 30 * time.Second, Delete: 5 * time.Second,
		Budget: 100, Designs: []string{"shared", "per-machine"}}
	if os.Getenv("BENCH_FULL") == "1" {
		s.Ns = append(s.Ns, 300)
	}
	if v := os.Getenv("BENCH_N"); v != "" {
		var err error
		if s.Ns, err = counts("BENCH_N", v); err != nil {
			return s, err
		}
	}
	for env, d := range map[string]*time.Duration{"BENCH_IDLE": &s.Idle, "BENCH_BOOT": &s.Boot, "BENCH_DELETE": &s.Delete} {
		if v := os.Getenv(env); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed < 0 {
				return s, fmt.Errorf("%s: %q is not a duration", env, v)
			}
			*d = parsed
		}
	}
	if v := os.Getenv("BENCH_BUDGET"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return s, fmt.Errorf("BENCH_BUDGET: %q is not a positive number", v)
		}
		s.Budget = n
	}
	if v := os.Getenv("BENCH_DESIGNS"); v != "" && v != memoryRun {
		s.Designs = strings.Split(v, ",")
	}
	s.Memory = []int{100, 300, 1000}
	if v := os.Getenv("BENCH_MEMORY"); v == "0" {
		s.Memory = nil
	} else if v != "" {
		var err error
		if s.Memory, err = counts("BENCH_MEMORY", v); err != nil {
			return s, err
		}
	}
	for _, d := range s.Designs {
		if d != "shared" && d != "per-machine" {
			return s, fmt.Errorf("BENCH_DESIGNS: %q is neither shared nor per-machine", d)
		}
	}
	return s, nil
}

func logf(design, format string, args ...any) {
	fmt.Printf("%s [%s] %s\n", time.Now().Format(time.TimeOnly), design, fmt.Sprintf(format, args...))
}

// counts parses a comma-separated list of positive numbers.
func counts(env, v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number", env, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// run measures every N in one design.
func run(h *e2e.Harness, s settings, name string) (design, error) {
	logf := func(format string, args ...any) { logf(name, format, args...) }
	if name == "per-machine" {
		h.Provider.SetExtraFlags([]string{"--per-machine-polling"})
		if err := h.RestartProvider(); err != nil {
			return design{}, err
		}
	}
	h.Sim.SetFaults(vpsiesim.Faults{RateLimit: s.Budget, RateLimitWindow: time.Minute})

	ctx := context.Background()
	ns, err := h.CreateNamespace(ctx, "bench-"+name)
	if err != nil {
		return design{}, err
	}
	c, err := h.CreateCluster(ctx, ns, "bench", e2e.ClusterOptions{})
	if err != nil {
		return design{}, err
	}
	if err := h.MarkControlPlaneInitialized(ctx, c); err != nil {
		return design{}, err
	}
	md, err := h.CreateMachineDeployment(ctx, c, "pool", ptr.To[int32](0), nil)
	if err != nil {
		return design{}, err
	}
	d := design{Name: name}
	budget := float64(s.Budget)
	var lastEnd time.Time
	for i, n := range s.Ns {
		if i > 0 {
			// Each N starts on a fresh minute of budget: the previous scale-down spent it.
			time.Sleep(time.Until(lastEnd.Add(time.Minute)))
		}
		l := lifecycle{N: n, ByRoute: map[string]int{},
			UpFloorSeconds:   float64(n)/budget*60 + s.Boot.Seconds(),
			DownFloorSeconds: float64(n)/budget*60 + s.Delete.Seconds()}
		// Generous: twice the floor of the slowest step, and the harness's own margin.
		timeout := time.Duration(4*max(l.UpFloorSeconds, l.DownFloorSeconds))*time.Second + 3*time.Minute

		logf("scaling to %d", n)
		upStart := time.Now()
		if err := h.ScaleMachineDeployment(ctx, md, int32(n)); err != nil {
			return d, err
		}
		if _, err := h.WaitMachinesRunningWithin(ctx, c, "", n, timeout); err != nil {
			return d, fmt.Errorf("scaling to %d: %w", n, err)
		}
		upEnd := time.Now()
		l.UpSeconds = upEnd.Sub(upStart).Seconds()

		logf("%d machines Running after %.1fs; idle for %s", n, l.UpSeconds, s.Idle)
		time.Sleep(s.Idle)
		idleEnd := time.Now()

		logf("scaling to 0")
		if err := h.ScaleMachineDeployment(ctx, md, 0); err != nil {
			return d, err
		}
		if _, err := h.WaitMachinesRunningWithin(ctx, c, "", 0, timeout); err != nil {
			return d, fmt.Errorf("scaling %d to 0: %w", n, err)
		}
		downEnd := time.Now()
		l.DownSeconds = downEnd.Sub(idleEnd).Seconds()
		logf("all gone after %.1fs", l.DownSeconds)

		up, idle, down := between(h, upStart, upEnd), between(h, upEnd, idleEnd), between(h, idleEnd, downEnd)
		l.CallsUp, l.CallsDown = len(up), len(down)
		l.CallsPerMachine = float64(len(up)+len(down)) / float64(n)
		if s.Idle > 0 {
			l.IdlePerMinute = float64(len(idle)) / s.Idle.Minutes()
		}
		for _, r := range append(append(up, idle...), down...) {
			l.ByRoute[r.Route]++
			if r.Outcome == "429" {
				l.RateLimited++
			}
		}
		l.ManagerPeakRSSMiB = peakRSSMiB(h.Provider.PID())
		d.Lifecycles = append(d.Lifecycles, l)
		lastEnd = downEnd
	}
	return d, nil
}

// between are the simulator's requests that arrived in [from, to).
func between(h *e2e.Harness, from, to time.Time) []e2e.SimRequest {
	var out []e2e.SimRequest
	for _, r := range h.SimRequests.Since(from) {
		if r.At.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

// peakRSSMiB is a process's VmHWM, 0 when it cannot be read.
func peakRSSMiB(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, _ := strconv.ParseFloat(f[1], 64)
			return kib / 1024
		}
	}
	return 0
}

// goals judges the production design against the targets, at the largest N measured.
func goals(rep report) []string {
	var shared *design
	for i := range rep.Designs {
		if rep.Designs[i].Name == "shared" {
			shared = &rep.Designs[i]
		}
	}
	if shared == nil || len(shared.Lifecycles) == 0 {
		return []string{"SKIP goals: the shared design was not measured"}
	}
	last := shared.Lifecycles[len(shared.Lifecycles)-1]
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	out := []string{
		fmt.Sprintf("%s calls per machine lifecycle at N=%d: %.2f (goal ≤ 2.0)", verdict(last.CallsPerMachine <= 2.0), last.N, last.CallsPerMachine),
		fmt.Sprintf("%s time to Running at N=%d: %.2f× floor (goal ≤ 1.1×)", verdict(last.upRatio() <= 1.1), last.N, last.upRatio()),
	}
	worstIdle := 0.0
	for _, l := range shared.Lifecycles {
		worstIdle = max(worstIdle, l.IdlePerMinute)
	}
	if rep.Settings.Idle > 0 {
		out = append(out, fmt.Sprintf("%s steady state: at most %.1f requests a minute at any N (goal ≤ 2)", verdict(worstIdle <= 2), worstIdle))
	}
	if m := rep.Memory; len(m) > 0 {
		last := m[len(m)-1]
		out = append(out, fmt.Sprintf("%s manager peak RSS with %d machines, budgets off: %.1f MiB (goal ≤ 100 MiB at 1,000)",
			verdict(last.PeakRSSMiB <= 100), last.N, last.PeakRSSMiB))
	} else {
		out = append(out, "SKIP manager peak RSS at 1,000 machines (BENCH_MEMORY=0)")
	}
	return out
}

func printTable(rep report) {
	s := rep.Settings
	fmt.Printf("\nbench: budget %d/min, boot %s, delete %s, idle %s\n", s.Budget, s.Boot, s.Delete, s.Idle)
	fmt.Printf("%-12s %5s %9s %9s %9s %9s %8s %8s %6s %9s %8s\n", "design", "N", "calls/m", "up s", "up×floor",
		"down s", "down×fl", "429s", "idle/m", "calls", "RSS MiB")
	for _, d := range rep.Designs {
		for _, l := range d.Lifecycles {
			fmt.Printf("%-12s %5d %9.2f %9.1f %9.2f %9.1f %8.2f %8d %6.1f %9d %8.1f\n", d.Name, l.N, l.CallsPerMachine,
				l.UpSeconds, l.upRatio(), l.DownSeconds, l.downRatio(), l.RateLimited, l.IdlePerMinute, l.CallsUp+l.CallsDown,
				l.ManagerPeakRSSMiB)
		}
	}
	fmt.Println("\nrequests by route (up, idle and down):")
	for _, d := range rep.Designs {
		for _, l := range d.Lifecycles {
			routes := make([]string, 0, len(l.ByRoute))
			for r := range l.ByRoute {
				routes = append(routes, r)
			}
			sort.Slice(routes, func(i, j int) bool { return l.ByRoute[routes[i]] > l.ByRoute[routes[j]] })
			parts := make([]string, 0, len(routes))
			for _, r := range routes {
				parts = append(parts, fmt.Sprintf("%s=%d", r, l.ByRoute[r]))
			}
			fmt.Printf("  %-12s N=%-4d %s\n", d.Name, l.N, strings.Join(parts, " "))
		}
	}
	if len(rep.Memory) > 0 {
		fmt.Println("\nmemory (budgets off, 1 s boots; cumulative CPU):")
		fmt.Printf("%6s %12s %12s %10s\n", "N", "peak RSS MiB", "CPU seconds", "up s")
		for _, m := range rep.Memory {
			fmt.Printf("%6d %12.1f %12.1f %10.1f\n", m.N, m.PeakRSSMiB, m.CPUSeconds, m.UpSeconds)
		}
	}
	fmt.Println()
	for _, g := range rep.Goals {
		fmt.Println(g)
	}
}

func writeJSON(rep report) error {
	if err := os.MkdirAll("bin", 0o755); err != nil {
		return err
	}
	return writeFile(filepath.Join("bin", "bench.json"), rep)
}

func writeFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
