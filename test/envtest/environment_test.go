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

package envtest

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// TestControlPlaneServesClusterAPI proves the locally built control plane runs
// and serves Cluster API's v1beta2 kinds: a Cluster is created, read back and
// its status subresource written.
func TestControlPlaneServesClusterAPI(t *testing.T) {
	g := NewWithT(t)
	env, err := Start(Options{
		CRDDirectoryPaths: []string{ProviderCRDPath()},
		AddToScheme:       []func(*kruntime.Scheme) error{infrav1.AddToScheme},
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { g.Expect(env.Stop()).To(Succeed()) })

	disco, err := discovery.NewDiscoveryClientForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	version, err := disco.ServerVersion()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(version.GitVersion).To(HavePrefix("v1.36."), "kube-apiserver must carry a stamped release version")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "envtest-"}}
	g.Expect(env.Client.Create(ctx, ns)).To(Succeed())

	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns.Name},
		Spec: clusterv1.ClusterSpec{
			ClusterNetwork: clusterv1.ClusterNetwork{
				Pods: clusterv1.NetworkRanges{CIDRBlocks: []string{"192.168.0.0/16"}},
			},
		},
	}
	g.Expect(env.Client.Create(ctx, cluster)).To(Succeed())

	got := &clusterv1.Cluster{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(cluster), got)).To(Succeed())
	g.Expect(got.Spec.ClusterNetwork.Pods.CIDRBlocks).To(ConsistOf("192.168.0.0/16"))
	g.Expect(got.GetObjectKind().GroupVersionKind().Version).To(SatisfyAny(Equal(""), Equal("v1beta2")))

	// The status subresource is served: a status-only write round-trips.
	got.Status.Phase = string(clusterv1.ClusterPhaseProvisioning)
	g.Expect(env.Client.Status().Update(ctx, got)).To(Succeed())
	again := &clusterv1.Cluster{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(cluster), again)).To(Succeed())
	g.Expect(again.Status.Phase).To(Equal(string(clusterv1.ClusterPhaseProvisioning)))

	// The provider's CRDs, CEL rules included, are accepted by this API server.
	vc := &infrav1.VPSieCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns.Name},
		Spec: infrav1.VPSieClusterSpec{
			CredentialsRef: infrav1.SecretReference{Name: "creds"},
			Datacenter:     "dc",
			Network:        infrav1.NetworkSpec{VPC: infrav1.VPCSpec{CIDR: "10.42.0.0/16"}},
		},
	}
	g.Expect(env.Client.Create(ctx, vc)).To(Succeed())
}
