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
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// pagedList is a fake list endpoint with n items made by item(i). It honours offset (unless
// ignoreOffset) and limit, but never serves more than pageCap items per page (0: no cap), the
// way a server with its own maximum page size does. shape wraps the items: "array" sends
// data:[...] with total (omitted when noTotal), "rows" sends data:{rows,count}.
type pagedList struct {
	n            int
	pageCap      int
	ignoreOffset bool
	ignoreLimit  bool
	noTotal      bool
	shape        string
	item         func(i int) string
}

func (p pagedList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if p.ignoreOffset {
		offset = 0
	}
	if err != nil || p.ignoreLimit {
		limit = p.n
	}
	if p.pageCap > 0 && limit > p.pageCap {
		limit = p.pageCap
	}
	var items []string
	for i := offset; i < p.n && i < offset+limit; i++ {
		items = append(items, p.item(i))
	}
	list := "[" + strings.Join(items, ",") + "]"
	switch {
	case p.shape == "rows":
		writeBody(w, 200, fmt.Sprintf(`{"error":false,"data":{"rows":%s,"count":%d}}`, list, p.n))
	case p.noTotal:
		writeBody(w, 200, fmt.Sprintf(`{"error":false,"data":%s}`, list))
	default:
		writeBody(w, 200, fmt.Sprintf(`{"error":false,"data":%s,"total":%d}`, list, p.n))
	}
}

func vmItem(i int) string {
	return fmt.Sprintf(`{"id":%d,"identifier":"vm-%d","hostname":"h%d"}`, i+1, i+1, i+1)
}

func lbItem(i int) string {
	return fmt.Sprintf(`{"identifier":"lb-%d","lbName":"lb-name-%d"}`, i, i)
}

func vpcItem(i int) string {
	return fmt.Sprintf(`{"id":%d,"name":"vpc-%d"}`, i+1, i)
}

// A server whose pages are capped below our limit, but which announces the total, is followed
// to the end instead of being taken at its first (short) page.
func TestListVMsFollowsPagesCappedBelowOurLimit(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /api/v2/vm", pagedList{n: 250, pageCap: 40, item: vmItem}.ServeHTTP)
	c, _ := newTestClient(t, f)
	vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vms).To(HaveLen(250))
	g.Expect(vms[249].Identifier).To(Equal(String("vm-250")))
	reqs := f.requests("GET /api/v2/vm")
	g.Expect(reqs).To(HaveLen(7), "250 in pages of 40")
	g.Expect(reqs[1].RawQuery).To(Equal("limit=100&offset=40"), "offset advances by what was received")
}

func TestListIncompleteIsTransientError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"empty page before the total", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("offset") == "0" {
				pagedList{n: 180, item: vmItem}.ServeHTTP(w, r)
				return
			}
			writeBody(w, 200, `{"error":false,"data":[],"total":180}`)
		}, "incomplete list: got 100 of total 180: empty page at offset 100"},
		{"offset ignored, pages capped", pagedList{n: 150, pageCap: 50, ignoreOffset: true, item: vmItem}.ServeHTTP,
			"incomplete list: got 50 of total 150: page at offset 50 brought nothing new"},
		{"total without paging (offset and limit ignored, page capped)", pagedList{n: 120, pageCap: 100, ignoreOffset: true, ignoreLimit: true, item: vmItem}.ServeHTTP,
			"incomplete list: got 100 of total 120"},
		{"no total, a full page repeated", pagedList{n: 150, noTotal: true, ignoreOffset: true, item: vmItem}.ServeHTTP,
			"incomplete list: got 100, no total announced: page at offset 100 repeated a full page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFakeAPI(t)
			f.handle("GET /api/v2/vm", tc.handler)
			c, _ := newTestClient(t, f)
			vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
			g.Expect(vms).To(BeNil(), "never a partial list")
			g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
			g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
			g.Expect(NotSent(err)).To(BeFalse())
		})
	}
}

func TestListStopsAtMaxPages(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	// Every page brings something new and the total is never reached: a broken server.
	f.handle("GET /api/v2/vm", func(w http.ResponseWriter, r *http.Request) {
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		writeBody(w, 200, fmt.Sprintf(`{"error":false,"data":[%s],"total":1000000}`, vmItem(offset)))
	})
	c, _ := newTestClient(t, f)
	_, err := c.ListVMs(context.Background(), ListVMsOptions{})
	g.Expect(IsTransient(err)).To(BeTrue(), "%v", err)
	g.Expect(err).To(MatchError(ContainSubstring("got 1000 of total 1000000: stopped after 1000 pages")))
	g.Expect(f.count("GET /api/v2/vm")).To(Equal(maxPages))
}

func TestListWithoutTotalUsesPageShape(t *testing.T) {
	t.Run("short page ends the list", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		f.handle("GET /api/v2/vm", pagedList{n: 230, noTotal: true, item: vmItem}.ServeHTTP)
		c, _ := newTestClient(t, f)
		vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(vms).To(HaveLen(230))
		g.Expect(f.count("GET /api/v2/vm")).To(Equal(3))
	})
	t.Run("empty page ends the list", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		f.handle("GET /api/v2/vm", pagedList{n: 200, noTotal: true, item: vmItem}.ServeHTTP)
		c, _ := newTestClient(t, f)
		vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(vms).To(HaveLen(200))
		g.Expect(f.count("GET /api/v2/vm")).To(Equal(3))
	})
	t.Run("a server ignoring paging sends everything each time", func(t *testing.T) {
		g := NewWithT(t)
		f := newFakeAPI(t)
		f.handle("GET /api/v2/vm", pagedList{n: 150, noTotal: true, ignoreOffset: true, ignoreLimit: true, item: vmItem}.ServeHTTP)
		c, _ := newTestClient(t, f)
		vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(vms).To(HaveLen(150))
		g.Expect(f.count("GET /api/v2/vm")).To(Equal(2), "the repeated (oversized) page ends the list")
	})
}

func TestListKeepsItemsWithoutKey(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.reply("GET /api/v2/vm", 200, `{"error":false,"data":[{"hostname":"a"},{"hostname":"b"},{"id":5,"identifier":"x"},{"id":5,"identifier":"x"}],"total":3}`)
	c, _ := newTestClient(t, f)
	vms, err := c.ListVMs(context.Background(), ListVMsOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vms).To(HaveLen(3), "keyless items are kept, keyed duplicates dropped")
}

func TestListLoadBalancersPages(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /api/v1/lb/all", pagedList{n: 130, pageCap: 50, item: lbItem}.ServeHTTP)
	c, _ := newTestClient(t, f)
	lbs, err := c.ListLoadBalancers(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lbs).To(HaveLen(130))
	g.Expect(FindLoadBalancersByName(lbs, "lb-name-129")).To(HaveLen(1))
	reqs := f.requests("GET /api/v1/lb/all")
	g.Expect(reqs).To(HaveLen(3))
	g.Expect(reqs[0].RawQuery).To(Equal("limit=100&offset=0"))
	g.Expect(reqs[2].RawQuery).To(Equal("limit=100&offset=100"))

	// Overlapping pages (an LB created while paging shifts the offsets) are deduplicated by
	// identifier, and a server ignoring offset is refused rather than taken as complete.
	f.handle("GET /api/v1/lb/all", pagedList{n: 130, pageCap: 50, ignoreOffset: true, item: lbItem}.ServeHTTP)
	_, err = c.ListLoadBalancers(context.Background())
	g.Expect(err).To(MatchError(ContainSubstring("incomplete list: got 50 of total 130")))
}

func TestListVPCsPagesRowsCount(t *testing.T) {
	g := NewWithT(t)
	f := newFakeAPI(t)
	f.handle("GET /apps/v2/vpc", pagedList{n: 120, pageCap: 30, shape: "rows", item: vpcItem}.ServeHTTP)
	c, _ := newTestClient(t, f)
	vpcs, err := c.ListVPCs(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vpcs).To(HaveLen(120))
	g.Expect(FindVPCsByName(vpcs, "vpc-119")).To(HaveLen(1))
	reqs := f.requests("GET /apps/v2/vpc")
	g.Expect(reqs).To(HaveLen(4))
	g.Expect(reqs[3].RawQuery).To(Equal("limit=100&offset=90"))

	f.handle("GET /apps/v2/vpc", pagedList{n: 120, pageCap: 30, shape: "rows", ignoreOffset: true, item: vpcItem}.ServeHTTP)
	_, err = c.ListVPCs(context.Background())
	g.Expect(IsTransient(err)).To(BeTrue())
	g.Expect(err).To(MatchError(ContainSubstring("incomplete list: got 30 of total 120")))
}
