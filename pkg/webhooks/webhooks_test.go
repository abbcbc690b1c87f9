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

package webhooks_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/webhooks"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/envtest"
)

// k8s talks to the real API server, which calls the provider's webhooks served by a real manager: the
// messages asserted below are exactly what kubectl shows a user.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := envtest.Start(envtest.Options{
		CRDDirectoryPaths: []string{envtest.ProviderCRDPath()},
		AddToScheme:       []func(*kruntime.Scheme) error{infrav1.AddToScheme},
		WebhookPaths:      []string{envtest.ProviderWebhookPath()},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	stop, err := env.StartManager(func(_ context.Context, mgr ctrl.Manager) error {
		return webhooks.SetupWithManager(mgr)
	}, validMachine("default", "webhook-probe"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	k8s = env.Client
	return m.Run()
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "webhooks-"}}
	NewWithT(t).Expect(k8s.Create(context.Background(), ns)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

func validCluster(ns, name string) *infrav1.VPSieCluster {
	return &infrav1.VPSieCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1.VPSieClusterSpec{
			CredentialsRef: infrav1.SecretReference{Name: "vpsie-credentials"},
			Datacenter:     "55f06b85-c9ee-11ed-a4cc-0050569c68dc",
		},
	}
}

func validMachine(ns, name string) *infrav1.VPSieMachine {
	return &infrav1.VPSieMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       infrav1.VPSieMachineSpec{Plan: "plan-s", Image: "ubuntu-24.04"},
	}
}

func validMachineTemplate(ns, name string) *infrav1.VPSieMachineTemplate {
	return &infrav1.VPSieMachineTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1.VPSieMachineTemplateSpec{Template: infrav1.VPSieMachineTemplateResource{
			Spec: validMachine(ns, name).Spec,
		}},
	}
}

func TestDefaults(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)

	cluster := validCluster(ns, "defaults")
	cluster.Spec.FailureDomains = []infrav1.FailureDomainSpec{{Datacenter: "dc-2"}}
	g.Expect(k8s.Create(ctx, cluster)).To(Succeed())
	g.Expect(cluster.Spec.ControlPlaneLoadBalancer.Enabled).To(Equal(ptr.To(true)))
	g.Expect(cluster.Spec.ControlPlaneLoadBalancer.Port).To(Equal(int32(6443)))
	g.Expect(cluster.Spec.ControlPlaneLoadBalancer.Algorithm).To(Equal(infrav1.LoadBalancerAlgorithmRoundRobin))
	g.Expect(cluster.Spec.FailureDomains[0].ControlPlane).To(Equal(ptr.To(true)))

	machine := validMachine(ns, "defaults")
	g.Expect(k8s.Create(ctx, machine)).To(Succeed())
	g.Expect(machine.Spec.PublicIPv4).To(Equal(ptr.To(true)))

	tmpl := validMachineTemplate(ns, "defaults")
	g.Expect(k8s.Create(ctx, tmpl)).To(Succeed())
	g.Expect(tmpl.Spec.Template.Spec.PublicIPv4).To(Equal(ptr.To(true)))
}

func TestImmutability(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)

	t.Run("machine spec cannot change", func(t *testing.T) {
		g := NewWithT(t)
		m := validMachine(ns, "immutable")
		g.Expect(k8s.Create(ctx, m)).To(Succeed())
		m.Spec.Plan = "plan-xl"
		err := k8s.Update(ctx, m)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("a VPSieMachine's spec cannot change"))
	})

	t.Run("providerID may be set once", func(t *testing.T) {
		g := NewWithT(t)
		m := validMachine(ns, "provider-id")
		g.Expect(k8s.Create(ctx, m)).To(Succeed())
		m.Spec.ProviderID = "vpsie://4b1d"
		g.Expect(k8s.Update(ctx, m)).To(Succeed())
		m.Spec.ProviderID = "vpsie://other"
		err := k8s.Update(ctx, m)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("providerID cannot change once set"))
	})

	t.Run("cluster datacenter and endpoint cannot change", func(t *testing.T) {
		g := NewWithT(t)
		c := validCluster(ns, "immutable")
		g.Expect(k8s.Create(ctx, c)).To(Succeed())
		c.Spec.ControlPlaneEndpoint = clusterv1.APIEndpoint{Host: "203.0.113.10", Port: 6443}
		g.Expect(k8s.Update(ctx, c)).To(Succeed(), "the controller sets the endpoint once")
		c.Spec.Datacenter = "elsewhere"
		c.Spec.ControlPlaneEndpoint.Host = "203.0.113.11"
		err := k8s.Update(ctx, c)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(And(ContainSubstring("spec.datacenter"), ContainSubstring("spec.controlPlaneEndpoint")))
		// Tags and SSH keys only affect servers made later, so they may change.
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
		c.Spec.Tags = []string{"team-a"}
		g.Expect(k8s.Update(ctx, c)).To(Succeed())
	})

	t.Run("a recorded management-cluster identity cannot change or go", func(t *testing.T) {
		g := NewWithT(t)
		c := validCluster(ns, "identity")
		c.Annotations = map[string]string{infrav1.OwnerIdentityAnnotation: "Not A Tag"}
		err := k8s.Create(ctx, c)
		g.Expect(err).To(MatchError(ContainSubstring("lower-case letters, digits and '-'")))
		c.Annotations[infrav1.OwnerIdentityAnnotation] = "mgmt-a"
		g.Expect(k8s.Create(ctx, c)).To(Succeed(), "set at creation: restoring objects of a lost management cluster")
		c.Annotations[infrav1.OwnerIdentityAnnotation] = "mgmt-b"
		err = k8s.Update(ctx, c)
		g.Expect(err).To(MatchError(ContainSubstring(`the management-cluster identity "mgmt-a" is recorded and cannot be changed`)))
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
		delete(c.Annotations, infrav1.OwnerIdentityAnnotation)
		g.Expect(k8s.Update(ctx, c)).NotTo(Succeed(), "nor removed")

		fresh := validCluster(ns, "identity-later")
		g.Expect(k8s.Create(ctx, fresh)).To(Succeed())
		fresh.Annotations = map[string]string{infrav1.OwnerIdentityAnnotation: "mgmt-a"}
		g.Expect(k8s.Update(ctx, fresh)).To(Succeed(), "the controller records it at the first reconcile")
	})

	t.Run("templates are immutable except for topology dry-runs", func(t *testing.T) {
		g := NewWithT(t)
		tm := validMachineTemplate(ns, "immutable")
		g.Expect(k8s.Create(ctx, tm)).To(Succeed())
		tm.Spec.Template.Spec.Plan = "plan-xl"
		err := k8s.Update(ctx, tm)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("templates are immutable"))

		// What Cluster API's topology controller does to compute a diff: a dry-run carrying its annotation.
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		tm.Annotations = map[string]string{clusterv1.TopologyDryRunAnnotation: ""}
		tm.Spec.Template.Spec.Plan = "plan-xl"
		g.Expect(k8s.Update(ctx, tm, client.DryRunAll)).To(Succeed())
		// A dry-run alone, without the annotation, is still checked.
		tm.Annotations = nil
		g.Expect(k8s.Update(ctx, tm, client.DryRunAll)).NotTo(Succeed())
	})

	t.Run("cluster templates are immutable", func(t *testing.T) {
		g := NewWithT(t)
		ct := &infrav1.VPSieClusterTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "immutable"},
			Spec: infrav1.VPSieClusterTemplateSpec{Template: infrav1.VPSieClusterTemplateResource{
				Spec: validCluster(ns, "x").Spec,
			}},
		}
		g.Expect(k8s.Create(ctx, ct)).To(Succeed())
		ct.Spec.Template.Spec.Datacenter = "elsewhere"
		err := k8s.Update(ctx, ct)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("templates are immutable"))
	})
}
