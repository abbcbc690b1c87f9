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
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
)

// The benchmark's parts (one design at one N, and the memory run) run in processes of their own, all at once:
// most of a part's time is its idle phase, which needs no CPU. Their busy phases — scaling up, scaling down,
// the memory run — take a slot of the schedule first, so that no more of them run at once than the machine's
// two cores serve without distorting the timings, and in an order that keeps the run short: scale-ups first
// (each then idles while the others work), then scale-downs, and the memory run (long, and CPU-heavy at 1,000
// machines) only once every scale-up is over, so it never shares the machine with the one that sets a goal.

// Phase kinds, in the order the schedule serves them.
const (
	phaseStart  = "start" // a part's management cluster, Cluster API and the provider starting
	phaseUp     = "up"
	phaseDown   = "down"
	phaseMemory = "memory"
)

// schedule hands out slots to the parts' busy phases.
type schedule struct {
	mu      sync.Mutex
	changed *sync.Cond
	free    int
	upsLeft int // design parts whose scale-up has not ended yet
	waiting map[string]int
}

func newSchedule(slots, designParts int) *schedule {
	s := &schedule{free: slots, upsLeft: designParts, waiting: map[string]int{}}
	s.changed = sync.NewCond(&s.mu)
	return s
}

// acquire blocks until a phase of the kind may run.
func (s *schedule) acquire(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting[kind]++
	for !s.turn(kind) {
		s.changed.Wait()
	}
	s.waiting[kind]--
	s.free--
}

// turn tells whether a phase of the kind goes next. Called with s.mu held.
func (s *schedule) turn(kind string) bool {
	switch {
	case s.free == 0:
		return false
	case kind == phaseStart:
		return true
	case kind == phaseUp:
		return s.waiting[phaseStart] == 0
	case kind == phaseDown:
		return s.waiting[phaseStart] == 0 && s.waiting[phaseUp] == 0
	default: // phaseMemory
		return s.upsLeft == 0 && s.waiting[phaseStart] == 0 && s.waiting[phaseUp] == 0 && s.waiting[phaseDown] == 0
	}
}

// release ends a phase.
func (s *schedule) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free++
	s.changed.Broadcast()
}

// upDone records that a design part's scale-up is over, or will never come.
func (s *schedule) upDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upsLeft--
	s.changed.Broadcast()
}

// serve answers one child's requests: it reads "<kind>" (wait for a slot) and "done <kind>" lines from
// requests and writes "go" to grants. When the child ends, whatever it held is given back, and a design part
// that never reached the end of its scale-up no longer holds the memory run back.
func (s *schedule) serve(requests io.Reader, grants io.Writer, designPart bool) {
	held := 0
	upEnded := !designPart
	sc := bufio.NewScanner(requests)
	for sc.Scan() {
		var kind string
		if _, err := fmt.Sscanf(sc.Text(), "done %s", &kind); err == nil {
			held--
			s.release()
			if kind == phaseUp && !upEnded {
				upEnded = true
				s.upDone()
			}
			continue
		}
		s.acquire(sc.Text())
		held++
		if _, err := fmt.Fprintln(grants, "go"); err != nil {
			break
		}
	}
	for range held {
		s.release()
	}
	if !upEnded {
		s.upDone()
	}
}

// The child's side: the schedule's pipes are its file descriptors 3 (requests) and 4 (grants) when
// BENCH_SCHEDULED is set; a part run on its own takes no slot.
const scheduledEnv = "BENCH_SCHEDULED"

var childSchedule struct {
	once     sync.Once
	requests *os.File
	grants   *bufio.Reader
}

// busy runs f in a slot of the parent's schedule.
func busy(kind string, f func() error) error {
	if os.Getenv(scheduledEnv) == "" {
		return f()
	}
	childSchedule.once.Do(func() {
		childSchedule.requests = os.NewFile(3, "schedule-requests")
		childSchedule.grants = bufio.NewReader(os.NewFile(4, "schedule-grants"))
	})
	if _, err := fmt.Fprintln(childSchedule.requests, kind); err != nil {
		return fmt.Errorf("asking the schedule for a slot: %w", err)
	}
	if _, err := childSchedule.grants.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for a slot: %w", err)
	}
	defer func() { _, _ = fmt.Fprintln(childSchedule.requests, "done", kind) }()
	return f()
}
