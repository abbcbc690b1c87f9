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

package e2e

// The chaos scenario's own checks, checked: a check that cannot fail proves nothing.

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestChaosChecksRequestLogAndRates(t *testing.T) {
	g := NewWithT(t)
	l := &RequestLog{}
	logger := log.New(l, "", 0)
	logger.Printf("GET /api/v2/vm -> 200 (1.5ms)")
	time.Sleep(5 * time.Millisecond)
	logger.Printf("POST /api/v2/vm -> answer lost (2ms)")
	logger.Printf("admin GET /_sim/state -> 200 (1ms)")
	reqs := l.Since(time.Time{})
	g.Expect(reqs).To(HaveLen(2), "admin requests are left out")
	g.Expect(reqs[0].Route).To(Equal("GET /api/v2/vm"))
	g.Expect(reqs[0].Outcome).To(Equal("200"))
	g.Expect(reqs[1].Outcome).To(Equal("answer lost"))

	at := func(secs ...float64) []SimRequest {
		var out []SimRequest
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, s := range secs {
			out = append(out, SimRequest{At: base.Add(time.Duration(s * float64(time.Second)))})
		}
		return out
	}
	// The simulator's fixed windows start at 0 (0, 9) and at 10.5 (10.5, 11); the sliding window from 9 holds 3.
	st := rates(at(0, 9, 10.5, 11), 10*time.Second)
	g.Expect(st.Sliding).To(Equal(3))
	g.Expect(st.SlidingAt).To(Equal(at(9)[0].At))
	g.Expect(st.Fixed).To(Equal(2))
	g.Expect(rates(at(0, 1, 2, 30), 10*time.Second)).To(Equal(RateStats{Sliding: 3, SlidingAt: at(0)[0].At, Fixed: 3}))
}

func TestChaosChecksFindSecrets(t *testing.T) {
	g := NewWithT(t)
	out := []byte("a line\nlogged in with token simtok-0123456789abcdef\nclient secret e2e-s3cret here\n")
	leaks := findSecrets(out, map[string]string{"client secret": "e2e-s3cret", "unused": "nowhere"})
	g.Expect(leaks).To(HaveLen(2))
	for _, l := range leaks {
		g.Expect(l.Excerpt).NotTo(ContainSubstring("e2e-s3cret"), "the excerpt masks the secret")
		g.Expect(l.Excerpt).NotTo(ContainSubstring("simtok-0123456789abcdef"))
	}
	g.Expect(findSecrets([]byte("nothing to see"), map[string]string{"x": "secret"})).To(BeEmpty())
}

func TestChaosChecksSeeDuplicates(t *testing.T) {
	g := NewWithT(t)
	sim := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{"t"}, AccountPassword: "p", BootDelay: time.Hour, Seed: 1})
	defer sim.Close()
	c := startDupChecker(sim, 10*time.Millisecond, func() string { return "test" })
	for range 2 { // the same hostname twice, both pending
		body, _ := json.Marshal(map[string]any{"hostname": "twice", "dcIdentifier": vpsiesim.DefaultDatacenter,
			"resourceIdentifier": vpsiesim.DefaultPlan, "osIdentifier": vpsiesim.DefaultImage})
		req, _ := http.NewRequest(http.MethodPost, sim.URL+"/api/v2/vm", bytes.NewReader(body))
		req.Header.Set("Vpsie-Auth", "t")
		req.Header.Set("Content-Type", "application/json")
		res, err := sim.Client().Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = res.Body.Close()
		g.Expect(res.StatusCode).To(Equal(http.StatusOK))
	}
	time.Sleep(50 * time.Millisecond)
	dups, samples, maxLive := c.Stop()
	g.Expect(samples).To(BeNumerically(">", 1))
	g.Expect(maxLive).To(Equal(2))
	g.Expect(dups).To(HaveLen(1))
	g.Expect(dups[0].Hostname).To(Equal("twice"))
	g.Expect(dups[0].Servers).To(HaveLen(2))
	g.Expect(createdTwice(sim)).To(HaveKey("twice"))
}
