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

package vpsiesim_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) {
		o.Faults = vpsiesim.Faults{RateLimit: 3, RateLimitWindow: 2 * time.Second}
	})
	a := newAPI(t, srv.URL)
	for range 3 {
		g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
	}
	r := a.get("/api/v2/vm")
	g.Expect(r.Status).To(Equal(429))
	g.Expect(r.Error).To(BeTrue())
	g.Expect(r.Code).To(Equal(429))
	g.Expect(r.Message).To(ContainSubstring("Too many requests"))
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(secs).To(BeNumerically(">=", 1))
	g.Expect(secs).To(BeNumerically("<=", 2))
	g.Expect(a.anonymous().get("/api/v2/vm").Status).To(Equal(429), "the limit applies before authentication")
	g.Expect(srv.RequestCount("GET /api/v2/vm")).To(Equal(5), "limited requests are counted")

	time.Sleep(time.Duration(secs) * time.Second)
	g.Eventually(func() int { return a.get("/api/v2/vm").Status }, 10*time.Second, 100*time.Millisecond).Should(Equal(200))
	srv.SetFaults(vpsiesim.Faults{})
	for range 10 {
		g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
	}
}

func TestHTMLErrorPages(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{HTMLErrorRate: 1} })
	a := newAPI(t, srv.URL)
	r := a.get("/apps/v2/datacenter")
	g.Expect(r.Status).To(Equal(502))
	g.Expect(r.Header.Get("Content-Type")).To(Equal("text/html"))
	g.Expect(string(r.Body)).To(Equal("<html>502 Bad Gateway</html>"))

	srv.SetFaults(vpsiesim.Faults{HTMLErrorNext: 2, HTMLErrorStatus: 504})
	g.Expect(a.get("/apps/v2/datacenter").Status).To(Equal(504))
	g.Expect(string(a.get("/apps/v2/datacenter").Body)).To(Equal("<html>504 Gateway Timeout</html>"))
	g.Expect(a.get("/apps/v2/datacenter").ok()).To(BeTrue())
	g.Expect(srv.Faults().HTMLErrorNext).To(BeZero())

	// A share hits roughly that share of requests (seeded generator).
	srv.SetFaults(vpsiesim.Faults{HTMLErrorRate: 0.3})
	failed := 0
	for range 200 {
		if a.get("/apps/v2/datacenter").Status == 502 {
			failed++
		}
	}
	g.Expect(failed).To(BeNumerically("~", 60, 30))
}

func TestErrorWithHTTP200(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{ErrorOKRate: 1} })
	a := newAPI(t, srv.URL)
	r := a.get("/api/v2/vm")
	g.Expect(r.Status).To(Equal(200))
	g.Expect(r.Error).To(BeTrue())
	g.Expect(r.Body).To(MatchJSON(`{"error":true,"code":500,"message":"Something went wrong, please try again later","stack":""}`))
	g.Expect(a.post("/api/v2/vm", createVMBody("x", nil)).Error).To(BeTrue())
	g.Expect(srv.VMs()).To(BeEmpty(), "by default a faulted request has no effect")

	// Routes narrows faults to some keys.
	srv.SetFaults(vpsiesim.Faults{ErrorOKRate: 1, Routes: []string{"POST /api/v2/vm"}})
	g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
	g.Expect(a.post("/api/v2/vm", createVMBody("x", nil)).Error).To(BeTrue())
}

func TestProcessBeforeFailingLosesTheAnswerNotTheEffect(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) {
		o.Faults = vpsiesim.Faults{HTMLErrorNext: 1, ProcessBeforeFailing: true, Routes: []string{"POST /api/v2/vm"}}
	})
	a := newAPI(t, srv.URL)
	r := a.post("/api/v2/vm", createVMBody("lost-answer", nil))
	g.Expect(r.Status).To(Equal(502))
	g.Expect(srv.VMsByHostname("lost-answer")).To(HaveLen(1), "the VM was created even though the answer was a 502")
	// A blind retry makes a duplicate.
	g.Expect(a.post("/api/v2/vm", createVMBody("lost-answer", nil)).ok()).To(BeTrue())
	g.Expect(srv.VMsByHostname("lost-answer")).To(HaveLen(2))
}

func TestLatency(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{Latency: 150 * time.Millisecond} })
	a := newAPI(t, srv.URL)
	start := time.Now()
	g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
	g.Expect(time.Since(start)).To(BeNumerically(">=", 150*time.Millisecond))
}

func TestNeverBootAndBootNow(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) {
		o.BootDelay = 50 * time.Millisecond
		o.Faults = vpsiesim.Faults{NeverBoot: []string{"stuck-*", "exact"}}
	})
	a := newAPI(t, srv.URL)
	var mu sync.Mutex
	var booted []string
	srv.OnVMBoot(func(v vpsiesim.VM) { mu.Lock(); booted = append(booted, v.Hostname); mu.Unlock() })
	for _, h := range []string{"stuck-1", "exact", "fine", "exactly"} {
		g.Expect(a.post("/api/v2/vm", createVMBody(h, nil)).ok()).To(BeTrue())
	}
	g.Eventually(func() int { return len(a.get("/api/v2/vm").list()) }, 10*time.Second, 20*time.Millisecond).Should(Equal(2))
	g.Consistently(func() []string { return pendingHostnames(a) }, 300*time.Millisecond, 50*time.Millisecond).
		Should(ConsistOf("stuck-1", "exact"))
	stuck := srv.VMsByHostname("stuck-1")[0]
	g.Expect(stuck.State).To(Equal(vpsiesim.VMPending))
	g.Expect(stuck.Stuck).To(BeTrue())

	g.Expect(srv.BootNow(stuck.Identifier)).To(Succeed())
	g.Expect(srv.BootNow(stuck.Identifier)).NotTo(Succeed())
	g.Expect(findByHostname(a.get("/apps/v2/vm").list(), "stuck-1")).To(HaveLen(1))
	mu.Lock()
	g.Expect(booted).To(ConsistOf("fine", "exactly", "stuck-1"))
	mu.Unlock()
}

func TestVanishVM(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	a := newAPI(t, srv.URL)
	gone := make(chan vpsiesim.VM, 1)
	srv.OnVMDelete(func(v vpsiesim.VM) { gone <- v })
	g.Expect(a.post("/api/v2/vm", createVMBody("ghost", nil)).ok()).To(BeTrue())
	id := srv.VMsByHostname("ghost")[0].Identifier
	g.Expect(srv.VanishVM(id)).To(Succeed())
	g.Expect(a.get("/api/v2/vm").list()).To(BeEmpty())
	g.Expect(a.get("/apps/v2/vm/" + id).dataIs("false")).To(BeTrue())
	var v vpsiesim.VM
	g.Expect(gone).To(Receive(&v))
	g.Expect(v.State).To(Equal(vpsiesim.VMVanished))
	g.Expect(srv.VanishVM(id)).NotTo(Succeed())
	rec, ok := srv.VM(id)
	g.Expect(ok).To(BeTrue())
	g.Expect(rec.DeletedAt).NotTo(BeZero())
}

func TestVMQuota(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.Faults = vpsiesim.Faults{VMQuota: 1} })
	a := newAPI(t, srv.URL)
	g.Expect(a.post("/api/v2/vm", createVMBody("one", nil)).ok()).To(BeTrue())
	r := a.post("/api/v2/vm", createVMBody("two", nil))
	g.Expect(r.Status).To(Equal(200))
	g.Expect(r.Error).To(BeTrue())
	g.Expect(r.Message).To(Equal("VM count exceeds the allowed limit 1"))
	g.Expect(srv.VMs()).To(HaveLen(1))
}

func TestSetFaultsRejectsInvalidValues(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	g.Expect(func() { srv.SetFaults(vpsiesim.Faults{HTMLErrorRate: 2}) }).To(Panic())
	g.Expect(func() { srv.SetFaults(vpsiesim.Faults{HTMLErrorStatus: 404}) }).To(Panic())
	g.Expect(vpsiesim.Options{Faults: vpsiesim.Faults{RateLimit: -1}}.Validate()).NotTo(Succeed())
}

func TestFaultsInjectedCountsServedFaults(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)
	srv.SetFaults(vpsiesim.Faults{HTMLErrorNext: 2, ErrorOKNext: 1})
	for range 4 {
		a.get("/apps/v2/datacenter")
	}
	srv.SetFaults(vpsiesim.Faults{LostAnswerNext: 1, MissingRoutes: []string{"GET /api/v2/vm"}})
	a.get("/api/v2/vm")
	_, err := rawDo(srv.Client(), "POST", srv.URL+"/api/v2/vm/start", map[string]string{"vmIdentifier": "nope"})
	g.Expect(err).To(HaveOccurred(), "the answer is lost")
	srv.SetFaults(vpsiesim.Faults{ErrorOKNext: 1})
	a.anonymous().get("/apps/v2/datacenter") // drawn, but answered 401: not served
	srv.SetFaults(vpsiesim.Faults{RateLimit: 1})
	a.get("/apps/v2/datacenter")
	a.get("/apps/v2/datacenter")
	g.Expect(srv.FaultsInjected()).To(Equal(map[string]int{
		vpsiesim.FaultHTMLError: 2, vpsiesim.FaultErrorOK: 1, vpsiesim.FaultLostAnswer: 1,
		vpsiesim.FaultMissingRoute: 1, vpsiesim.FaultRateLimit: 1,
	}))
	srv.ResetCounters()
	g.Expect(srv.FaultsInjected()).To(BeEmpty())
}
