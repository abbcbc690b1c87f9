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
//	BENCH_DESIGNS shared,per-machine (default both; none: the memory run alone)
//	BENCH_MEMORY  machine counts of the memory run, budgets off and 1 s boots (default 100,300,1000; 0 skips it)
//	BENCH_PROFILE an address (127.0.0.1:6061) for the memory run's manager to serve pprof on; its heap profile at
//	              the last count goes to bin/bench-heap.pprof
//
// Each design at each N runs in a process of its own, with its own management cluster, simulator and budget,
// and so does the memory run; all of them at once, their busy phases sharing the machine's two cores under a
// schedule (schedule.go). It prints one table and writes it as JSON to bin/bench.json. Goals are printed as
// PASS or FAIL lines; nothing is asserted: this is a measurement, outside make test.
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
	// LifecycleByRoute counts the scale-up's and scale-down's requests (not the idle phase's) by route.
	LifecycleByRoute map[string]int `json:"lifecycleByRoute"`
	// UpByRoute counts the scale-up's requests by route.
	UpByRoute map[string]int `json:"upByRoute"`
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
	if part := os.Getenv(partEnv); part != "" {
		if err := runPart(s, part, os.Getenv(childOutput)); err != nil {
			fail(fmt.Errorf("%s: %w", part, err))
		}
		return
	}
	rep := report{Settings: s}
	if rep.Designs, rep.Memory, err = runParts(s); err != nil {
		fail(err)
	}
	rep.Goals = goals(rep)
	printTable(rep)
	if err := writeJSON(rep); err != nil {
		fail(err)
	}
}

// In a child's environment: partEnv names its part ("<design>/<N>" or "memory"), childOutput the file it
// writes its result to.
const (
	partEnv     = "BENCH_PART"
	childOutput = "BENCH_CHILD_OUTPUT"
)

// slots is how many busy phases run at once: the machine's two cores.
const slots = 2

// runPart is a child's work: one design at one N, or the memory run.
func runPart(s settings, part, out string) error {
	if part == memoryRun {
		steps, err := runMemory(s)
		if err != nil {
			return err
		}
		return writeFile(out, steps)
	}
	name, count, _ := strings.Cut(part, "/")
	n, err := strconv.Atoi(count)
	if err != nil {
		return fmt.Errorf("part %q: %w", part, err)
	}
	l, err := runDesign(s, name, n)
	if err != nil {
		return err
	}
	return writeFile(out, l)
}

// runParts runs every part in a child process (this program again), all at once under one schedule (see
// schedule.go), and collects the results in the order of the settings.
func runParts(s settings) ([]design, []memoryStep, error) {
	designs := make([]design, len(s.Designs))
	sched := newSchedule(slots, len(s.Designs)*len(s.Ns))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	run := func(part string, designPart bool, result any) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runChild(part, sched, designPart, result); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	for i, name := range s.Designs {
		designs[i] = design{Name: name, Lifecycles: make([]lifecycle, len(s.Ns))}
		for j, n := range s.Ns {
			run(fmt.Sprintf("%s/%d", name, n), true, &designs[i].Lifecycles[j])
		}
	}
	var memory []memoryStep
	if len(s.Memory) > 0 {
		run(memoryRun, false, &memory)
	}
	wg.Wait()
	return designs, memory, errors.Join(errs...)
}

// runChild runs this program again for one part and decodes what it wrote into result. The child reaches the
// schedule through two pipes, its file descriptors 3 and 4.
func runChild(part string, sched *schedule, designPart bool, result any) error {
	dir, err := os.MkdirTemp("", "capvpsie-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	file := filepath.Join(dir, "result.json")
	requestsR, requestsW, err := os.Pipe()
	if err != nil {
		return err
	}
	grantsR, grantsW, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), partEnv+"="+part, childOutput+"="+file, scheduledEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{requestsW, grantsR}
	err = cmd.Start()
	_ = requestsW.Close() // the child holds its own copies: the schedule sees EOF when it ends
	_ = grantsR.Close()
	if err != nil {
		_ = requestsR.Close()
		_ = grantsW.Close()
		return fmt.Errorf("%s: %w", part, err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		sched.serve(requestsR, grantsW, designPart)
	}()
	err = cmd.Wait()
	<-served
	_ = requestsR.Close()
	_ = grantsW.Close()
	if err != nil {
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

// runDesign measures one design at one N on a management cluster of its own.
func runDesign(s settings, name string, n int) (lifecycle, error) {
	part := fmt.Sprintf("%s/%d", name, n)
	var h *e2e.Harness
	err := busy(phaseStart, func() error {
		var err error
		h, err = e2e.Start(e2e.Options{BootDelay: s.Boot, DeleteDelay: s.Delete, ProductionDefaults: true,
			Logf: func(format string, args ...any) { logf(part, format, args...) }})
		if err != nil || name != "per-machine" {
			return err
		}
		h.Provider.SetExtraFlags([]string{"--per-machine-polling"})
		return h.RestartProvider()
	})
	if h != nil {
		defer h.Stop()
	}
	if err != nil {
		return lifecycle{}, err
	}
	return run(h, s, part, n)
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
	switch v := os.Getenv("BENCH_DESIGNS"); v {
	case "":
	case "none":
		s.Designs = nil
	default:
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

// run measures one N: scale up, idle, scale down.
func run(h *e2e.Harness, s settings, part string, n int) (lifecycle, error) {
	logf := func(format string, args ...any) { logf(part, format, args...) }
	h.Sim.SetFaults(vpsiesim.Faults{RateLimit: s.Budget, RateLimitWindow: time.Minute})

	ctx := context.Background()
	ns, err := h.CreateNamespace(ctx, "bench")
	if err != nil {
		return lifecycle{}, err
	}
	c, err := h.CreateCluster(ctx, ns, "bench", e2e.ClusterOptions{})
	if err != nil {
		return lifecycle{}, err
	}
	if err := h.MarkControlPlaneInitialized(ctx, c); err != nil {
		return lifecycle{}, err
	}
	md, err := h.CreateMachineDeployment(ctx, c, "pool", ptr.To[int32](0), nil)
	if err != nil {
		return lifecycle{}, err
	}
	budget := float64(s.Budget)
	l := lifecycle{N: n, ByRoute: map[string]int{},
		UpFloorSeconds:   float64(n)/budget*60 + s.Boot.Seconds(),
		DownFloorSeconds: float64(n)/budget*60 + s.Delete.Seconds()}
	// Generous: four times the floor of the slowest step, and the harness's own margin.
	timeout := time.Duration(4*max(l.UpFloorSeconds, l.DownFloorSeconds))*time.Second + 3*time.Minute

	var upStart, upEnd, idleEnd, downEnd time.Time
	err = busy(phaseUp, func() error {
		logf("scaling to %d", n)
		upStart = time.Now()
		if err := h.ScaleMachineDeployment(ctx, md, int32(n)); err != nil {
			return err
		}
		if _, err := h.WaitMachinesRunningWithin(ctx, c, "", n, timeout); err != nil {
			return fmt.Errorf("scaling to %d: %w", n, err)
		}
		upEnd = time.Now()
		return nil
	})
	if err != nil {
		return l, err
	}
	l.UpSeconds = upEnd.Sub(upStart).Seconds()
	logf("%d machines Running after %.1fs; idle for %s", n, l.UpSeconds, s.Idle)
	time.Sleep(s.Idle)

	err = busy(phaseDown, func() error {
		logf("scaling to 0")
		idleEnd = time.Now()
		if err := h.ScaleMachineDeployment(ctx, md, 0); err != nil {
			return err
		}
		if _, err := h.WaitMachinesRunningWithin(ctx, c, "", 0, timeout); err != nil {
			return fmt.Errorf("scaling %d to 0: %w", n, err)
		}
		downEnd = time.Now()
		return nil
	})
	if err != nil {
		return l, err
	}
	l.DownSeconds = downEnd.Sub(idleEnd).Seconds()
	logf("all gone after %.1fs", l.DownSeconds)

	// The idle figure is the time between the phases, which includes any wait for a slot to scale down.
	up, idle, down := between(h, upStart, upEnd), between(h, upEnd, idleEnd), between(h, idleEnd, downEnd)
	l.CallsUp, l.CallsDown = len(up), len(down)
	l.CallsPerMachine = float64(len(up)+len(down)) / float64(n)
	if idleFor := idleEnd.Sub(upEnd); idleFor > 0 && s.Idle > 0 {
		l.IdlePerMinute = float64(len(idle)) / idleFor.Minutes()
	}
	l.LifecycleByRoute, l.UpByRoute = map[string]int{}, map[string]int{}
	for _, r := range up {
		l.UpByRoute[r.Route]++
		l.LifecycleByRoute[r.Route]++
	}
	for _, r := range down {
		l.LifecycleByRoute[r.Route]++
	}
	for _, r := range append(append(up, idle...), down...) {
		l.ByRoute[r.Route]++
		if r.Outcome == "429" {
			l.RateLimited++
		}
	}
	l.ManagerPeakRSSMiB = peakRSSMiB(h.Provider.PID())
	return l, nil
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
		"     " + callsWhy(last),
		fmt.Sprintf("%s time to Running at N=%d: %.2f× floor (goal ≤ 1.1×)", verdict(last.upRatio() <= 1.1), last.N, last.upRatio()),
		"     " + upWhy(last, rep.Settings),
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

// Routes the explanations name.
const (
	routeCreate  = "POST /api/v2/vm"
	routeDelete  = "DELETE /api/v2/vm"
	routeList    = "GET /api/v2/vm"
	routePending = "GET /apps/v2/vm/pending"
	routeGetVM   = "GET /api/v2/vm/{identifier}"
)

// callsWhy splits a lifecycle's calls per machine into the two it cannot do without and what the design adds.
func callsWhy(l lifecycle) string {
	per := func(route string) float64 { return float64(l.LifecycleByRoute[route]) / float64(l.N) }
	needed := per(routeCreate) + per(routeDelete)
	return fmt.Sprintf("of which %.2f creates and deletes, %.2f VM lists, %.2f queue reads, %.2f single-server GETs, %.2f other "+
		"(logins, retries); the lists and queue reads serve every machine of the account, so their share falls as N grows",
		needed, per(routeList), per(routePending), per(routeGetVM),
		l.CallsPerMachine-needed-per(routeList)-per(routePending)-per(routeGetVM))
}

// upWhy compares the scale-up with a floor that counts every call it made, not only the creates.
func upWhy(l lifecycle, s settings) string {
	floor := float64(l.CallsUp)/float64(s.Budget)*60 + s.Boot.Seconds()
	return fmt.Sprintf("the scale-up made %d calls (%d creates, %d lists, %d queue reads); at %d a minute they take %.1fs: "+
		"with the boot, a floor of %.1fs counting them, which the %.1fs measured is %.2f× of; the rest is the time to see "+
		"each server Running (one list every poll window) and Cluster API's own steps",
		l.CallsUp, l.UpByRoute[routeCreate], l.UpByRoute[routeList], l.UpByRoute[routePending], s.Budget,
		float64(l.CallsUp)/float64(s.Budget)*60, floor, l.UpSeconds, l.UpSeconds/floor)
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
