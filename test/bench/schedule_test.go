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
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// child is one part's end of the schedule's pipes.
type child struct {
	requests *io.PipeWriter
	grants   *bufio.Reader
}

func startChild(s *schedule, designPart bool) child {
	reqR, reqW := io.Pipe()
	grR, grW := io.Pipe()
	go func() {
		s.serve(reqR, grW, designPart)
		_ = grW.Close()
	}()
	return child{requests: reqW, grants: bufio.NewReader(grR)}
}

// ask requests a slot and reports on granted when it has one.
func (c child) ask(kind string, granted chan<- string) {
	go func() {
		_, _ = fmt.Fprintln(c.requests, kind)
		if _, err := c.grants.ReadString('\n'); err == nil {
			granted <- kind
		}
	}()
}

func (c child) done(kind string) { _, _ = fmt.Fprintln(c.requests, "done", kind) }

// With one slot: a waiting scale-up goes before a waiting scale-down, and the memory run waits until every
// design part's scale-up is over — also one whose process ended without scaling.
func TestScheduleOrdersBusyPhases(t *testing.T) {
	g := NewWithT(t)
	s := newSchedule(1, 3)
	a, b, c, mem := startChild(s, true), startChild(s, true), startChild(s, true), startChild(s, false)
	granted := make(chan string, 8)
	next := func() string {
		select {
		case k := <-granted:
			return k
		case <-time.After(5 * time.Second):
			return "nothing"
		}
	}
	quiet := func() {
		g.Consistently(granted, 200*time.Millisecond).ShouldNot(Receive(), "the slot is taken")
	}

	a.ask(phaseUp, granted)
	g.Expect(next()).To(Equal(phaseUp))
	mem.ask(phaseMemory, granted)
	quiet()
	b.ask(phaseDown, granted) // pretend b scaled up already: ask in this order, down first
	quiet()
	c.ask(phaseUp, granted)
	quiet()

	a.done(phaseUp)
	g.Expect(next()).To(Equal(phaseUp), "c's scale-up before b's scale-down")
	c.done(phaseUp)
	g.Expect(next()).To(Equal(phaseDown), "b's scale-down before the memory run")
	b.done(phaseDown)
	quiet() // b's scale-up never ended: the memory run still waits
	_ = b.requests.Close()
	g.Expect(next()).To(Equal(phaseMemory), "b's process ended: nothing holds the memory run back")
}

// Which phase may take a free slot, given who waits.
func TestScheduleTurns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		free    int
		upsLeft int
		waiting map[string]int
		may     []string
	}{
		{name: "no slot", free: 0, waiting: map[string]int{phaseStart: 1, phaseUp: 1}, may: nil},
		{name: "starts first", free: 1, upsLeft: 2, waiting: map[string]int{phaseStart: 1, phaseUp: 1, phaseDown: 1},
			may: []string{phaseStart}},
		{name: "then scale-ups", free: 1, upsLeft: 2, waiting: map[string]int{phaseUp: 1, phaseDown: 1, phaseMemory: 1},
			may: []string{phaseStart, phaseUp}},
		{name: "then scale-downs", free: 1, upsLeft: 0, waiting: map[string]int{phaseDown: 1, phaseMemory: 1},
			may: []string{phaseStart, phaseUp, phaseDown}},
		{name: "memory only after every scale-up", free: 2, upsLeft: 1, waiting: map[string]int{phaseMemory: 1},
			may: []string{phaseStart, phaseUp, phaseDown}},
		{name: "memory when nothing else waits", free: 1, upsLeft: 0, waiting: map[string]int{phaseMemory: 1},
			may: []string{phaseStart, phaseUp, phaseDown, phaseMemory}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedule(tc.free, tc.upsLeft)
			s.waiting = tc.waiting
			var may []string
			for _, kind := range []string{phaseStart, phaseUp, phaseDown, phaseMemory} {
				if s.turn(kind) {
					may = append(may, kind)
				}
			}
			NewWithT(t).Expect(may).To(Equal(tc.may))
		})
	}
}
