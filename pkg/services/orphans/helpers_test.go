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
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// Tests drive Sweep by hand with a fake clock; the simulator is the VPSie account, a fake client the
// management cluster. Metrics are package globals: tests compare them before and after, and none runs in
// parallel.

const (
	testToken    = "test-token"
	testPassword = "account-pw"
	ours         = "mgmt-a"
	theirs       = "mgmt-b"
	ns           = "default"
	clusterName  = "demo"
	// vmList and vmDelete are the simulator's request-count keys of ListVMs and DeleteVM.
	vmList   = "GET /api/v2/vm"
	vmGet    = "GET /api/v2/vm/{identifier}"
	vmDelete = "DELETE /api/v2/vm"
)

type env struct {
	t       *testing.T
	sim     *vpsiesim.Server
	api     vpsie.API // to seed the account
	kube    client.Client
	now     time.Time
	sweeper *Sweeper
}

func newEnv(t *testing.T) *env {
	t.Helper()
	g := NewWithT(t)
	sim := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{testToken}, AccountPassword: testPassword,
		BootDelay: -1, LBPendingDelay: -1, Seed: 1})
	t.Cleanup(sim.Close)
	cfg := vpsie.Config{BaseURL: sim.URL, RequestsPerMinute: 60000, Burst: 1000, RetryBaseDelay: time.Millisecond,
		RetryMaxDelay: 5 * time.Millisecond}
	seedCfg := cfg
	seedCfg.Token = testToken
	api, err := vpsie.New(seedCfg)
	g.Expect(err).NotTo(HaveOccurred())
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	g.Expect(infrav1.AddToScheme(scheme)).To(Succeed())
	e := &env{t: t, sim: sim, api: api, kube: fake.NewClientBuilder().WithScheme(scheme).Build(),
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.sweeper = &Sweeper{
		Options:  Options{Identity: ours, Grace: time.Hour, Now: func() time.Time { return e.now }},
		Reader:   e.kube,
		Accounts: &scope.ClientCache{Config: cfg},
	}
	e.addSecret("creds", testToken, testPassword)
	return e
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	NewWithT(e.t).Expect(e.kube.Create(context.Background(), obj)).To(Succeed())
}

func (e *env) delete(obj client.Object) {
	e.t.Helper()
	NewWithT(e.t).Expect(e.kube.Delete(context.Background(), obj)).To(Succeed())
}

func (e *env) addSecret(name, token, password string) {
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data: map[string][]byte{scope.SecretKeyAPIKey: []byte(token), scope.SecretKeyAccountPassword: []byte(password)}})
}

// addCluster adds a VPSieCluster whose credentials are the Secret named secret.
func (e *env) addCluster(name, secret string) *infrav1.VPSieCluster {
	vc := &infrav1.VPSieCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Annotations: map[string]string{infrav1.OwnerIdentityAnnotation: ours}},
		Spec: infrav1.VPSieClusterSpec{Datacenter: vpsiesim.DefaultDatacenter,
			CredentialsRef: infrav1.SecretReference{Name: secret}}}
	e.create(vc)
	return vc
}

// addMachine adds a VPSieMachine of the demo cluster; hostname, when given, is its status.hostname.
func (e *env) addMachine(name, hostname string) *infrav1.VPSieMachine {
	vm := &infrav1.VPSieMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{clusterv1.ClusterNameLabel: clusterName}},
		Status: infrav1.VPSieMachineStatus{Hostname: hostname}}
	e.create(vm)
	return vm
}

// ourTags are the tags the provider gives the server of machine in the demo cluster.
func ourTags(machine string) []string {
	return []string{scope.TagManaged, scope.OwnerTag(ours), scope.TagCluster + ns + "/" + clusterName, scope.TagMachine + machine}
}

// addVM creates a running server and returns its identifier.
func (e *env) addVM(hostname string, tags ...string) string {
	e.t.Helper()
	g := NewWithT(e.t)
	g.Expect(e.api.CreateVM(context.Background(), vpsie.CreateVMRequest{ResourceIdentifier: vpsiesim.DefaultPlan,
		OSIdentifier: vpsiesim.DefaultImage, DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: hostname, Tags: tags})).To(Succeed())
	vms := e.sim.VMsByHostname(hostname)
	g.Expect(vms).To(HaveLen(1))
	return vms[0].Identifier
}

func (e *env) vmLive(id string) bool {
	vm, ok := e.sim.VM(id)
	return ok && vm.Live()
}

// addVPC creates a VPC and returns its id.
func (e *env) addVPC(name, description string) string {
	e.t.Helper()
	g := NewWithT(e.t)
	g.Expect(e.api.CreateVPC(context.Background(), vpsie.CreateVPCRequest{Name: name, Description: description,
		DcIdentifier: vpsiesim.DefaultDatacenter, AutoGenerate: 1})).To(Succeed())
	for _, v := range e.sim.VPCs() {
		if v.Name == name {
			return strconv.Itoa(v.ID)
		}
	}
	e.t.Fatalf("VPC %s was not created", name)
	return ""
}

func (e *env) vpcExists(id string) bool {
	for _, v := range e.sim.VPCs() {
		if strconv.Itoa(v.ID) == id {
			return true
		}
	}
	return false
}

// addLB creates an active load balancer and returns its identifier.
func (e *env) addLB(name string) string {
	e.t.Helper()
	g := NewWithT(e.t)
	g.Expect(e.api.CreateLoadBalancer(context.Background(), vpsie.CreateLoadBalancerRequest{Name: name,
		Algorithm: "roundrobin", ResourceIdentifier: vpsiesim.DefaultLBPlan, DcIdentifier: vpsiesim.DefaultDatacenter,
		Rules: []vpsie.LBRuleSpec{{Scheme: "tcp", FrontPort: "6443", BackPort: "6443"}}})).To(Succeed())
	lbs := e.sim.LoadBalancersByName(name)
	g.Expect(lbs).To(HaveLen(1))
	return lbs[0].Identifier
}

func (e *env) lbExists(id string) bool {
	for _, lb := range e.sim.LoadBalancers() {
		if lb.Identifier == id {
			return true
		}
	}
	return false
}

func (e *env) addGroup(name string) string {
	e.t.Helper()
	g := NewWithT(e.t)
	g.Expect(e.api.CreateFirewallGroup(context.Background(), name, nil)).To(Succeed())
	for _, grp := range e.sim.FirewallGroups() {
		if grp.Name == name {
			return grp.Identifier
		}
	}
	e.t.Fatalf("firewall group %s was not created", name)
	return ""
}

func (e *env) groupExists(id string) bool {
	for _, grp := range e.sim.FirewallGroups() {
		if grp.Identifier == id {
			return true
		}
	}
	return false
}

// sweep runs a pass that must succeed.
func (e *env) sweep() Report {
	e.t.Helper()
	r, err := e.sweeper.Sweep(context.Background())
	NewWithT(e.t).Expect(err).NotTo(HaveOccurred())
	return r
}

func (e *env) advance(d time.Duration) { e.now = e.now.Add(d) }

func found(kind, action string) float64 {
	return testutil.ToFloat64(orphansFound.WithLabelValues(kind, action))
}

func sweepErrorCount(op string) float64 { return testutil.ToFloat64(sweepErrors.WithLabelValues(op)) }

// kinds are the kinds of a report's orphans, in order.
func kinds(r Report) []string {
	var out []string
	for _, o := range r.Orphans {
		out = append(out, o.Kind)
	}
	return out
}
