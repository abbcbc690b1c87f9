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

package intent

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// fleet is one controller process creating several resources of one kind in one account, each in its own
// world, polled every 10 s on a shared clock.
type fleet struct {
	now     time.Time
	tracker *Tracker
}

func newFleet() *fleet {
	f := &fleet{now: time.Unix(1_000_000, 0)}
	f.tracker = &Tracker{Now: func() time.Time { return f.now }}
	return f
}

// restart is a new process: what the old one measured is gone.
func (f *fleet) restart() { f.tracker = &Tracker{Now: func() time.Time { return f.now }} }

// poll runs one Ensure for the named resource of w.
func (f *fleet) poll(w *world, name string, in **infrav1.CreateIntent) (Outcome, error) {
	w.now = f.now
	return f.tracker.Ensure(context.Background(), Request{
		Kind: "server", Account: "acct", Name: name, Fingerprint: "plan-a", Intent: in,
		Persist: func(context.Context) error { w.stored = (*in).DeepCopy(); return nil },
		Lookup:  w.lookup, Create: w.create,
	})
}

// measure creates n resources that VPSie accepts, shows queued for queued and hides for gap, polling each until
// it is listed.
func (f *fleet) measure(g Gomega, n int, queued, gap time.Duration) {
	for i := range n {
		w := &world{queued: queued, gap: gap, answers: []answer{accept}}
		var in *infrav1.CreateIntent
		for deadline := f.now.Add(10 * time.Minute); ; f.now = f.now.Add(10 * time.Second) {
			g.Expect(f.now.Before(deadline)).To(BeTrue(), "resource %d never listed", i)
			out, err := f.poll(w, fmt.Sprintf("measured-%d", i), &in)
			g.Expect(err).NotTo(HaveOccurred())
			if out.Phase == Found {
				break
			}
		}
	}
}

// createdAgainAfter polls w's resource until its create was sent twice (or the horizon passed) and returns how
// long after the first create the second one was sent, or the horizon.
func (f *fleet) createdAgainAfter(g Gomega, w *world, horizon time.Duration) time.Duration {
	var in *infrav1.CreateIntent
	start := f.now
	for ; f.now.Sub(start) <= horizon; f.now = f.now.Add(10 * time.Second) {
		_, err := f.poll(w, "worker-1", &in)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(len(w.made)).To(BeNumerically("<=", 1), "a second resource was created at +%s", f.now.Sub(start))
		if w.calls >= 2 {
			return f.now.Sub(start)
		}
	}
	return horizon
}

func TestGatewayAnsweredCreateIsProvenAbsentByLearnedVisibility(t *testing.T) {
	cases := []struct {
		name string
		// train runs before the gateway-answered create.
		train func(g Gomega, f *fleet)
		// answers of the create under test.
		answers []answer
		// the resource under test shows queued for queued and hides for gap, when made.
		queued, gap time.Duration
		// wantAgain bounds when the create is sent again: within [min, max] after the first.
		minAgain, maxAgain time.Duration
		wantCalls          int
	}{
		{
			name:  "a 502 that made nothing, after three creates listed within a poll: created again in 30 s, not 2 min",
			train: func(g Gomega, f *fleet) { f.measure(g, 3, 30*time.Second, 0) },
			// B = 10 s (one poll), S = 10 s: 2B + S = 30 s.
			answers: []answer{failedNoWork, accept}, minAgain: 30 * time.Second, maxAgain: 30 * time.Second, wantCalls: 2,
		},
		{
			name:  "a 502 that made nothing, measured creates hidden 40 s between queue and list: waits 2B+S",
			train: func(g Gomega, f *fleet) { f.measure(g, 3, 5*time.Second, 40*time.Second) },
			// Sightings at +0 (answer) and +50 s (listed): B = 50 s, so 110 s, still short of the grace.
			answers: []answer{failedNoWork, accept}, minAgain: 110 * time.Second, maxAgain: 110 * time.Second, wantCalls: 2,
		},
		{
			name:    "a 502 after the work, hidden as long as the measured ones: found, never created again",
			train:   func(g Gomega, f *fleet) { f.measure(g, 3, 5*time.Second, 40*time.Second) },
			answers: []answer{gatewayAfterWork}, queued: 5 * time.Second, gap: 40 * time.Second,
			minAgain: 5 * time.Minute, maxAgain: 5 * time.Minute, wantCalls: 1,
		},
		{
			name:    "nothing measured yet: the full grace",
			train:   func(Gomega, *fleet) {},
			answers: []answer{failedNoWork, accept}, minAgain: DefaultGrace, maxAgain: DefaultGrace + 10*time.Second, wantCalls: 2,
		},
		{
			name:    "two measured are too few: the full grace",
			train:   func(g Gomega, f *fleet) { f.measure(g, 2, 30*time.Second, 0) },
			answers: []answer{failedNoWork, accept}, minAgain: DefaultGrace, maxAgain: DefaultGrace + 10*time.Second, wantCalls: 2,
		},
		{
			name:    "no answer at all (the request may still be at work): the full grace",
			train:   func(g Gomega, f *fleet) { f.measure(g, 3, 30*time.Second, 0) },
			answers: []answer{lostNoWork, accept}, minAgain: DefaultGrace, maxAgain: DefaultGrace + 10*time.Second, wantCalls: 2,
		},
		{
			name:    "a restart forgets what was measured: the full grace",
			train:   func(g Gomega, f *fleet) { f.measure(g, 3, 30*time.Second, 0); f.restart() },
			answers: []answer{failedNoWork, accept}, minAgain: DefaultGrace, maxAgain: DefaultGrace + 10*time.Second, wantCalls: 2,
		},
		{
			name: "an accepted create still hidden counts with its hidden time: the full grace",
			train: func(g Gomega, f *fleet) {
				f.measure(g, 3, 30*time.Second, 0)
				w := &world{gap: time.Hour, answers: []answer{accept}}
				var in *infrav1.CreateIntent
				_, err := f.poll(w, "hidden-1", &in)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(w.calls).To(Equal(1))
			},
			answers: []answer{failedNoWork, accept}, minAgain: DefaultGrace, maxAgain: DefaultGrace + 10*time.Second, wantCalls: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFleet()
			tc.train(g, f)
			w := &world{queued: tc.queued, gap: tc.gap, answers: tc.answers}
			again := f.createdAgainAfter(g, w, 5*time.Minute)
			g.Expect(w.calls).To(Equal(tc.wantCalls), "create calls")
			g.Expect(again).To(BeNumerically(">=", tc.minAgain))
			g.Expect(again).To(BeNumerically("<=", tc.maxAgain))
		})
	}
}

func TestSettleLetsAGatewayAnsweredDeleteGoEarly(t *testing.T) {
	g := NewWithT(t)
	f := newFleet()
	f.measure(g, 3, 30*time.Second, 0)
	w := &world{answers: []answer{failedNoWork}}
	var in *infrav1.CreateIntent
	start := f.now
	out, err := f.poll(w, "worker-1", &in)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Phase).To(Equal(Uncertain))
	settle := func() Phase {
		w.now = f.now
		out, err := f.tracker.Settle(context.Background(), Request{Kind: "server", Account: "acct", Name: "worker-1", Intent: &in, Lookup: w.lookup})
		g.Expect(err).NotTo(HaveOccurred())
		return out.Phase
	}
	for f.now = start.Add(10 * time.Second); f.now.Sub(start) < 30*time.Second; f.now = f.now.Add(10 * time.Second) {
		g.Expect(settle()).To(Equal(Uncertain), "at +%s", f.now.Sub(start))
	}
	g.Expect(settle()).To(Equal(Gone), "absent for 2B+S after a 502: nothing to wait for")
	g.Expect(in).To(BeNil())
}
