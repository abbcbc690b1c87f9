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

package vpsie

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestRegisterMetrics(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewPedanticRegistry()
	g.Expect(RegisterMetrics(reg)).To(Succeed())
	g.Expect(RegisterMetrics(reg)).To(Succeed(), "registering twice is harmless")

	// A conflicting collector with the same name is reported.
	other := prometheus.NewRegistry()
	g.Expect(other.Register(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "capvpsie_vpsie_api_logins_total", Help: "conflicting"}))).To(Succeed())
	g.Expect(RegisterMetrics(other)).To(HaveOccurred())

	f := newFakeAPI(t)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	c, _ := newTestClient(t, f)
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())

	names := map[string]bool{}
	mfs, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	g.Expect(names).To(HaveKey("capvpsie_vpsie_api_requests_total"))
	g.Expect(names).To(HaveKey("capvpsie_vpsie_api_request_duration_seconds"))
}

func TestRequestMetricsCountEveryAttempt(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /api/v2/vm/x", sequence(answer(502, "<html>502</html>"), answer(200, testdata(t, "vm_get.json"))))
	c, _ := newTestClient(t, f)
	ok := testutil.ToFloat64(requestsTotal.WithLabelValues("GetVM", "200"))
	bad := testutil.ToFloat64(requestsTotal.WithLabelValues("GetVM", "502"))
	hist := histogramSamples(t, "GetVM")

	_, err := c.GetVM(context.Background(), "x")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("GetVM", "200")) - ok).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("GetVM", "502")) - bad).To(Equal(1.0))
	g.Expect(histogramSamples(t, "GetVM")-hist).To(Equal(uint64(2)), "one latency sample per attempt")

	lint, err := testutil.CollectAndLint(requestsTotal)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lint).To(BeEmpty())
}

func TestLoginMetrics(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	clock := newFakeClock()
	ls := newLoginServer(t, "login_sdk.json", clock.Now)
	f.handle("POST "+loginPath, ls.issue)
	f.reply("GET /apps/v2/tags", 200, `{"error":false,"data":[]}`)
	c, _ := newTestClient(t, f, withCredentials(testClientID, testClientSecret), func(c *Config) { c.Now = clock.Now })
	before := testutil.ToFloat64(loginsTotal.WithLabelValues("success"))
	beforeReq := testutil.ToFloat64(requestsTotal.WithLabelValues("Login", "200"))
	_, err := c.ListTags(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(testutil.ToFloat64(loginsTotal.WithLabelValues("success")) - before).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(requestsTotal.WithLabelValues("Login", "200")) - beforeReq).To(Equal(1.0))
}

func histogramSamples(t *testing.T, op string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := requestDuration.WithLabelValues(op).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
