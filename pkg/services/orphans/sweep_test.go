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

package orphans

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"delete": ModeDelete, "\tReport\n": ModeReport, "off": ModeOff} {
		m, err := ParseMode(in)
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		NewWithT(t).Expect(m).To(Equal(want))
	}
	for _, in := range []string{"", "dry-run", "on"} {
		_, err := ParseMode(in)
		NewWithT(t).Expect(err).To(HaveOccurred(), in)
	}
}

func TestOptionsDefaultsAndValidation(t *testing.T) {
	g := NewWithT(t)
	o, err := Options{Identity: ours}.withDefaults()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.Mode).To(Equal(ModeDelete))
	g.Expect(o.Grace).To(Equal(DefaultGrace))
	g.Expect(o.Interval).To(Equal(DefaultInterval))
	for name, bad := range map[string]Options{
		"no identity":      {},
		"invalid identity": {Identity: "Not_An-Identity"},
		"unknown mode":     {Identity: ours, Mode: "dry-run"},
		"negative grace":   {Identity: ours, Grace: -time.Second},
	} {
		_, err := (&Sweeper{Options: bad}).Sweep(context.Background())
		g.Expect(err).To(HaveOccurred(), name)
		g.Expect((&Sweeper{Options: bad}).Start(context.Background())).NotTo(Succeed(), name)
	}
	g.Expect((&Sweeper{}).NeedLeaderElection()).To(BeTrue())
}

// Off: Start returns at once and sends nothing.
func TestModeOffDoesNothing(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.sweeper.Mode = ModeOff
	e.addCluster(clusterName, "creds")
	g.Expect(e.sweeper.Start(context.Background())).To(Succeed())
	r := e.sweep()
	g.Expect(r.Accounts).To(BeZero())
	g.Expect(e.sim.TotalRequests()).To(BeZero())
}

// Start sweeps at once, then at every interval, and returns when its context ends.
func TestStartSweepsUntilCancelled(t *testing.T) {
	g := NewWithT(t)
	e := newEnv(t)
	e.sweeper.Interval = time.Hour
	e.addCluster(clusterName, "creds")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.sweeper.Start(ctx) }()
	g.Eventually(func() int { return e.sim.RequestCount(vmList) }, 5*time.Second, 10*time.Millisecond).Should(Equal(1))
	cancel()
	g.Eventually(done, 5*time.Second).Should(Receive(BeNil()))
	g.Expect(e.sim.RequestCount(vmList)).To(Equal(1), "the next pass is an interval away")
}
