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

package controllers

// The integration suite: a real kube-apiserver and etcd (test/envtest) with Cluster API's CRDs and the
// provider's CRDs and webhooks, the provider's reconcilers on a real manager, and one VPSie simulator per
// test namespace (so request counts and credentials of one test never mix with another's). Helpers here are
// generic, for cluster and machine tests alike.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/firewalls"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/servers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/webhooks"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/envtest"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// Credentials every test simulator accepts unless a test changes them.
const (
	testToken    = "test-token"
	testPassword = "test-account-password"
)

var (
	// k8s talks to the API server directly (no cache): what tests read is what is stored.
	k8s client.Client
	// testEnvConfig reaches the API server; tests use it as the workload cluster too (Node providerIDs).
	testEnvConfig *rest.Config
	// accounts routes each namespace's credentials to that namespace's simulator.
	accounts = &simAccounts{byNamespace: map[string]*scope.ClientCache{}}
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		ctrl.SetLogger(zap.New(zap.WriteTo(discard{})))
	}
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

	testEnvConfig = env.Config
	stop, err := env.StartManager(setupReconcilers, newVPSieCluster("default", "webhook-probe", "creds"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	k8s = env.Client
	return m.Run()
}

// testIdentity is the management-cluster identity of the test manager.
const testIdentity = "mgmt-test"

// setupReconcilers registers every reconciler of the provider, as main.go does.
func setupReconcilers(ctx context.Context, mgr ctrl.Manager) error {
	if err := webhooks.SetupWithManager(mgr); err != nil {
		return err
	}
	opts := controller.Options{MaxConcurrentReconciles: 4}
	// Tests wait for the simulator, not for production poll intervals.
	if err := (&VPSieClusterReconciler{Client: mgr.GetClient(), Accounts: accounts, ManagementClusterID: testIdentity,
		// Firewall groups are compared with the spec every recheck: out-of-band changes are put back quickly.
		Timing:             services.PollTiming{Poll: 200 * time.Millisecond, DeletePoll: 200 * time.Millisecond, Recheck: 300 * time.Millisecond},
		CredentialsRecheck: credentialsRecheck}).SetupWithManager(ctx, mgr, opts); err != nil {
		return err
	}
	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient: mgr.GetClient(), Client: clustercache.ClientOptions{UserAgent: "capvpsie-test"},
	}, opts)
	if err != nil {
		return err
	}
	if err := (&VPSieMachineReconciler{
		Client: mgr.GetClient(), Accounts: accounts, ClusterCache: clusterCache, ManagementClusterID: testIdentity,
		Observer: &servers.Observer{Window: 200 * time.Millisecond},
		// Attaches to one server are spaced just over the simulator's ipSetNotCreated window.
		Firewalls: &firewalls.Attacher{Spacing: vpsiesim.AttachRace + 200*time.Millisecond},
		// Machines look at the shared VM snapshot as often as it is refreshed. A server accepted and listed
		// nowhere is reported after a second, not 15 minutes, so that tests can see the report.
		Timing: servers.Timing{PollTiming: services.PollTiming{Poll: 200 * time.Millisecond, DeletePoll: 200 * time.Millisecond},
			Running: 500 * time.Millisecond, PendingTooLong: time.Second},
	}).SetupWithManager(ctx, mgr, opts); err != nil {
		return err
	}
	return (&VPSieMachineTemplateReconciler{Client: mgr.GetClient(), Accounts: accounts}).SetupWithManager(ctx, mgr, opts)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// simAccounts is the reconcilers' AccountFactory: a scope.ClientCache per namespace, pointed at the
// namespace's simulator.
type simAccounts struct {
	mu          sync.Mutex
	byNamespace map[string]*scope.ClientCache
}

func (a *simAccounts) register(namespace, baseURL string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byNamespace[namespace] = &scope.ClientCache{Config: testClientConfig(baseURL)}
}

func (a *simAccounts) cache(namespace string) *scope.ClientCache {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byNamespace[namespace]
}

func (a *simAccounts) Account(secret types.NamespacedName, creds scope.Credentials) (*scope.Account, error) {
	c := a.cache(secret.Namespace)
	if c == nil {
		return nil, errors.New("no simulator registered for namespace " + secret.Namespace)
	}
	return c.Account(secret, creds)
}

func (a *simAccounts) Forget(secret types.NamespacedName) {
	if c := a.cache(secret.Namespace); c != nil {
		c.Forget(secret)
	}
}

// testClientConfig is a client configuration for a simulator: a generous rate limit and quick retries.
func testClientConfig(baseURL string) vpsie.Config {
	return vpsie.Config{
		BaseURL: baseURL, RequestsPerMinute: 60000, Burst: 1000, MaxRetries: 2,
		RetryBaseDelay: 10 * time.Millisecond, RetryMaxDelay: 50 * time.Millisecond, RequestTimeout: 5 * time.Second,
	}
}

// newTestNamespace creates a namespace for one test.
func newTestNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "capvpsie-test-"}}
	NewWithT(t).Expect(k8s.Create(context.Background(), ns)).To(Succeed())
	return ns.Name
}

// startSimulator starts a simulator accepting testToken and testPassword, serving the namespace's
// credentials from now on. Options can be adjusted by mutate. It is closed when the test ends, after the
// test's clusters are gone (cleanups run in reverse order).
func startSimulator(t *testing.T, namespace string, mutate ...func(*vpsiesim.Options)) *vpsiesim.Server {
	t.Helper()
	opts := vpsiesim.Options{
		Tokens: []string{testToken}, AccountPassword: testPassword,
		BootDelay: 300 * time.Millisecond, LBPendingDelay: 300 * time.Millisecond, Seed: 1,
	}
	for _, m := range mutate {
		m(&opts)
	}
	sim := vpsiesim.NewServer(opts)
	t.Cleanup(sim.Close)
	accounts.register(namespace, sim.URL)
	return sim
}

// simClient is a VPSie client of the simulator, for setting up cloud state as a user would.
func simClient(t *testing.T, sim *vpsiesim.Server) *vpsie.Client {
	t.Helper()
	cfg := testClientConfig(sim.URL)
	cfg.Token = testToken
	c, err := vpsie.New(cfg)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}

// createCredentialsSecret creates a credentials Secret with the given data (nil: testToken and testPassword).
func createCredentialsSecret(t *testing.T, namespace, name string, data map[string]string) *corev1.Secret {
	t.Helper()
	if data == nil {
		data = map[string]string{scope.SecretKeyAPIKey: testToken, scope.SecretKeyAccountPassword: testPassword}
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, StringData: data}
	NewWithT(t).Expect(k8s.Create(context.Background(), s)).To(Succeed())
	return s
}

// newVPSieCluster is a VPSieCluster in the simulator's default datacenter with its default LB plan and no VPC.
func newVPSieCluster(namespace, name, secret string) *infrav1.VPSieCluster {
	return &infrav1.VPSieCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: infrav1.VPSieClusterSpec{
			CredentialsRef:           infrav1.SecretReference{Name: secret},
			Datacenter:               vpsiesim.DefaultDatacenter,
			ControlPlaneLoadBalancer: infrav1.LoadBalancerSpec{Plan: vpsiesim.DefaultLBPlan},
		},
	}
}

// createCluster creates a Cluster and its VPSieCluster (from newVPSieCluster, changed by mutate) and sets the
// owner reference and cluster-name label as Cluster API's Cluster controller would. Mutate may change the
// Cluster too (e.g. spec.paused). When the test ends the VPSieCluster is deleted without cloud cleanup.
func createCluster(t *testing.T, namespace, name, secret string, mutate ...func(*clusterv1.Cluster, *infrav1.VPSieCluster)) (*clusterv1.Cluster, *infrav1.VPSieCluster) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: clusterv1.ClusterSpec{InfrastructureRef: clusterv1.ContractVersionedObjectReference{
			APIGroup: infrav1.GroupVersion.Group, Kind: "VPSieCluster", Name: name,
		}},
	}
	vc := newVPSieCluster(namespace, name, secret)
	for _, m := range mutate {
		m(cluster, vc)
	}
	g.Expect(k8s.Create(ctx, cluster)).To(Succeed())
	vc.Labels = mergeLabels(vc.Labels, map[string]string{clusterv1.ClusterNameLabel: name})
	vc.OwnerReferences = append(vc.OwnerReferences, metav1.OwnerReference{
		APIVersion: clusterv1.GroupVersion.String(), Kind: "Cluster", Name: cluster.Name, UID: cluster.UID,
	})
	g.Expect(k8s.Create(ctx, vc)).To(Succeed())
	t.Cleanup(func() { forceDeleteCluster(t, cluster, vc) })
	return cluster, vc
}

// forceDeleteCluster deletes a test's VPSieCluster, skipping cloud cleanup, and its Cluster.
func forceDeleteCluster(t *testing.T, cluster *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
	ctx := context.Background()
	key := client.ObjectKeyFromObject(vc)
	cur := &infrav1.VPSieCluster{}
	if err := k8s.Get(ctx, key, cur); err == nil {
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Annotations = mergeLabels(cur.Annotations, map[string]string{infrav1.SkipCloudCleanupAnnotation: "true"})
		_ = k8s.Patch(ctx, cur, patch)
		_ = k8s.Delete(ctx, cur)
		// Unpause the Cluster, or the controller would never process the deletion.
		c := &clusterv1.Cluster{}
		if k8s.Get(ctx, client.ObjectKeyFromObject(cluster), c) == nil && ptr.Deref(c.Spec.Paused, false) {
			p := client.MergeFrom(c.DeepCopy())
			c.Spec.Paused = ptr.To(false)
			_ = k8s.Patch(ctx, c, p)
		}
		NewWithT(t).Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, key, &infrav1.VPSieCluster{}))
		}, 30*time.Second, 100*time.Millisecond).Should(BeTrue(), "VPSieCluster %s was not deleted at the end of the test", key)
	}
	_ = k8s.Delete(ctx, cluster)
}

func mergeLabels(into, from map[string]string) map[string]string {
	if into == nil {
		into = map[string]string{}
	}
	for k, v := range from {
		into[k] = v
	}
	return into
}

// getVPSieCluster reads a VPSieCluster from the API server.
func getVPSieCluster(g Gomega, namespace, name string) *infrav1.VPSieCluster {
	vc := &infrav1.VPSieCluster{}
	g.Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, vc)).To(Succeed())
	return vc
}

// condition returns the condition of type t of obj, or an empty one.
func condition(obj conditions.Getter, t string) metav1.Condition {
	if c := conditions.Get(obj, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// haveCondition matches a condition's status and reason.
func haveCondition(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return SatisfyAll(HaveField("Status", status), HaveField("Reason", reason))
}
