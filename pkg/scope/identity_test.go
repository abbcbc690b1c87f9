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

package scope

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestOwnershipTagsAndOwners(t *testing.T) {
	g := NewWithT(t)
	own := OwnershipTags("a", "a", "ns", "c")
	g.Expect(own).To(Equal([]string{"capvpsie-managed", "capvpsie-owner:a", "capvpsie-cluster:ns/c"}))
	g.Expect(Owners(own)).To(Equal([]string{"a"}))

	moved := OwnershipTags("a", "b", "ns", "c")
	g.Expect(Owners(moved)).To(ConsistOf("a", "b"), "the manager a cluster was moved to claims its resources")
	g.Expect(ForeignOwners(moved, "a")).To(Equal([]string{"b"}))

	g.Expect(BelongsTo([]string{"capvpsie-managed", "capvpsie-owner:b"}, "a")).To(BeFalse())
	g.Expect(BelongsTo(moved, "a")).To(BeTrue())
	g.Expect(BelongsTo([]string{"capvpsie-managed"}, "a")).To(BeTrue(), "no owner named: the name is the guard")

	ns, name, ok := ClusterOf(strings.Fields("capvpsie-managed capvpsie-owner:a capvpsie-cluster:team/prod"))
	g.Expect(ok).To(BeTrue())
	g.Expect(ns + "/" + name).To(Equal("team/prod"))
	_, _, ok = ClusterOf([]string{"capvpsie-cluster:broken"})
	g.Expect(ok).To(BeFalse())
	m, ok := MachineOf([]string{"x", "capvpsie-machine:w-1"})
	g.Expect(ok).To(BeTrue())
	g.Expect(m).To(Equal("w-1"))
}

func TestValidateIdentity(t *testing.T) {
	g := NewWithT(t)
	for _, ok := range []string{"0d5c3f0e-8f5e-4b8e-9c2a-1f2e3d4c5b6a", "prod", "a"} {
		g.Expect(ValidateIdentity(ok)).To(Succeed(), ok)
	}
	for _, bad := range []string{"", "Prod", "a b", "-a", "a:b", strings.Repeat("a", 64)} {
		g.Expect(ValidateIdentity(bad)).To(MatchError(ContainSubstring("lower-case letters")), bad)
	}
}
