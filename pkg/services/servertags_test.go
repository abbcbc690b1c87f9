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

package services

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestServerTagsReadOnceSharedAndForgotten(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sim := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{"tok"}, BootDelay: -1})
	t.Cleanup(sim.Close)
	api, err := vpsie.New(vpsie.Config{BaseURL: sim.URL, Token: "tok", RequestsPerMinute: 6000, Burst: 100})
	g.Expect(err).NotTo(HaveOccurred())
	account := &scope.Account{API: api, Key: "acct"}
	g.Expect(api.CreateVM(ctx, vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan, OSIdentifier: vpsiesim.DefaultImage,
		DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: "srv", Tags: []string{"capvpsie-owner:a"}})).To(Succeed())
	vms, err := api.ListVMs(ctx, vpsie.ListVMsOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(vms).To(HaveLen(1))
	id := string(vms[0].Identifier)
	gets := func() int { return sim.RequestCount("GET /api/v2/vm/{identifier}") }

	shared, separate := &ServerTags{}, &ServerTags{}
	for range 3 {
		tags, err := shared.Get(ctx, account, id, false)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tags).To(ConsistOf("capvpsie-owner:a"))
	}
	g.Expect(gets()).To(Equal(1), "read once, then kept")

	// A claim recorded by one user of the copy is what the other reads, without a request.
	g.Expect(api.AddVMTags(ctx, id, []string{"capvpsie-owner:b"})).To(Succeed())
	shared.Set(account, id, []string{"capvpsie-owner:a", "capvpsie-owner:b"})
	tags, err := shared.Get(ctx, account, id, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tags).To(ConsistOf("capvpsie-owner:a", "capvpsie-owner:b"))
	g.Expect(gets()).To(Equal(1))

	// fresh reads again; a separate copy reads on its own.
	_, err = shared.Get(ctx, account, id, true)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = separate.Get(ctx, account, id, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gets()).To(Equal(3))

	// Retain drops servers no longer listed, of that account only.
	other := &scope.Account{API: api, Key: "other"}
	shared.Set(other, id, []string{"x"})
	shared.Retain(account, func(string) bool { return false })
	_, err = shared.Get(ctx, account, id, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gets()).To(Equal(4), "read again after Retain dropped it")
	tags, err = shared.Get(ctx, other, id, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tags).To(ConsistOf("x"), "another account's copy is kept")

	// A server that cannot be read is forgotten and the error returned.
	shared.Set(account, "gone", []string{"y"})
	_, err = shared.Get(ctx, account, "gone", true)
	g.Expect(vpsie.IsNotFound(err)).To(BeTrue(), "%v", err)
	g.Expect(gets()).To(Equal(5))
	_, err = shared.Get(ctx, account, "gone", false)
	g.Expect(err).To(HaveOccurred(), "not served from a forgotten copy")
}
