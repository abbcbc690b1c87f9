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

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Drain with real pods: a Deployment of 6 replicas under a PodDisruptionBudget (maxUnavailable 1), spread
// over three workers by the scheduler. Scaling the MachineDeployment to 2 makes Cluster API cordon and drain
// one Node: its pods are evicted one at a time (the disruption controller allows one while the other five
// are Ready), the Deployment's replacements are scheduled on the two workers left and kwok runs them, and only
// once the Node holds none of the pods does the provider delete its server.
//
// The cluster has a control-plane Machine: without one, Cluster API neither drains nor deletes a worker's
// Node (isDeleteNodeAllowed: errNoControlPlaneNodes), as in the harness's worker-only clusters.
func TestDrainRespectsPodDisruptionBudget(t *testing.T) {
	s := newScenario(t, true)
	c := s.workerCluster("drain", ClusterOptions{})
	s.g.Expect(h.CreateControlPlaneMachine(s.ctx, c, "cp-0")).To(Succeed())
	md := s.machineDeployment(c, "md-0", 3)
	s.waitRunning(c, nil, 4)
	machines, err := h.Machines(s.ctx, c, md.Name)
	s.g.Expect(err).NotTo(HaveOccurred())
	nodes := s.waitNodesSchedulable(machines)

	app := map[string]string{"app": "drained"}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "drained"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: app},
		},
	}
	s.g.Expect(h.Client.Create(s.ctx, pdb)).To(Succeed())
	pods := watchPods(s, app)
	s.g.Expect(h.Client.Create(s.ctx, spreadDeployment(s.ns, "drained", app, 6, nodes))).To(Succeed())

	s.g.Eventually(func(g Gomega) {
		g.Expect(pods.available()).To(Equal(6), "pods Ready")
		g.Expect(h.Client.Get(s.ctx, client.ObjectKeyFromObject(pdb), pdb)).To(Succeed())
		g.Expect(pdb.Status.DisruptionsAllowed).To(BeEquivalentTo(1), "the disruption controller's count")
	}, timeoutShort, 250*time.Millisecond).Should(Succeed())
	s.g.Expect(pods.perNode()).To(HaveLen(3), "the scheduler spread the pods over the three workers: %v", pods.perNode())
	pods.resetLowest()

	s.g.Expect(h.ScaleMachineDeployment(s.ctx, md, 2)).To(Succeed())
	left := s.waitRunning(c, nil, 3)
	s.g.Eventually(pods.available, timeoutShort, 250*time.Millisecond).Should(Equal(6), "pods Ready after the drain")

	s.g.Expect(pods.lowest()).To(Equal(5), "the fewest pods Ready at once during the drain (the PDB allows one away):\n%s", pods.timeline())
	deleted := h.ClusterDeletedVMs(c.Namespace, c.Name)
	s.g.Expect(deleted).To(HaveLen(1))
	drained := deleted[0]
	lastPodGone, evicted := pods.lastGoneFrom(drained.Hostname)
	s.g.Expect(evicted).To(Equal(2), "pods evicted from the drained Node %s", drained.Hostname)
	s.g.Expect(drained.DeleteRequestedAt).To(BeTemporally(">", lastPodGone),
		"the server of the drained Node is deleted only after its last pod is gone")
	for node := range pods.perNode() {
		s.g.Expect(node).NotTo(Equal(drained.Hostname), "a pod runs on the drained Node")
	}
	t.Logf("drained %s: last pod gone %s before its server's DELETE; %d Machines left",
		drained.Hostname, drained.DeleteRequestedAt.Sub(lastPodGone).Round(time.Millisecond), len(left))

	s.g.Expect(h.Client.Delete(s.ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "drained"}})).To(Succeed())
	s.deleteCluster(c)
}

// waitNodesSchedulable waits until the Nodes of machines are Ready (kwok reports them) and carry no taint
// (the node lifecycle controller removed the not-ready taint the API server put on them at registration),
// and returns their names.
func (s *scenario) waitNodesSchedulable(machines []clusterv1.Machine) []string {
	var names []string
	for _, m := range machines {
		names = append(names, m.Status.NodeRef.Name)
	}
	s.g.Eventually(func(g Gomega) {
		for _, name := range names {
			node := &corev1.Node{}
			g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Name: name}, node)).To(Succeed())
			g.Expect(node.Spec.Taints).To(BeEmpty(), "taints of Node %s", name)
			ready := false
			for _, c := range node.Status.Conditions {
				ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
			}
			g.Expect(ready).To(BeTrue(), "Node %s Ready", name)
		}
	}, timeoutShort, 250*time.Millisecond).Should(Succeed())
	return names
}

// spreadDeployment runs replicas pods on nodes, spread evenly by the scheduler: a node that is cordoned
// (tainted unschedulable) does not count (nodeTaintsPolicy Honor), so the pods of a drained Node can move.
func spreadDeployment(namespace, name string, labels map[string]string, replicas int32, nodes []string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					// kwok starts each pod in about half a second and reports it Ready 3 s later: a replacement
					// is not Ready before Cluster API's next eviction, as with a real application.
					"pod-create.stage.kwok.x-k8s.io/delay": "500ms", "pod-create.stage.kwok.x-k8s.io/jitter-delay": "500ms",
					"pod-ready.stage.kwok.x-k8s.io/delay": "3s", "pod-ready.stage.kwok.x-k8s.io/jitter-delay": "3s",
				}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "app", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
						}},
					}},
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
							MatchExpressions: []corev1.NodeSelectorRequirement{{
								Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: nodes,
							}},
						}}},
					}},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector:    &metav1.LabelSelector{MatchLabels: labels},
						NodeTaintsPolicy: ptr.To(corev1.NodeInclusionPolicyHonor),
					}},
					TerminationGracePeriodSeconds: ptr.To[int64](1),
				},
			},
		},
	}
}

// podTracker follows a set of pods through a watch: which are Ready and bound where, the fewest Ready at
// once, and when the last one left each Node.
type podTracker struct {
	mu      sync.Mutex
	pods    map[string]*corev1.Pod
	low     int
	goneAt  map[string]time.Time // node -> when the last pod bound to it was deleted
	evicted map[string]int       // node -> pods that began terminating there
	history []string             // every change of the available count, for failure messages
}

// watchPods starts following the scenario's pods with labels; the watch is established before it returns.
func watchPods(s *scenario, labels map[string]string) *podTracker {
	wc, err := client.NewWithWatch(h.Env.Config, client.Options{Scheme: h.Env.Scheme})
	s.g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(s.ctx)
	s.t.Cleanup(cancel)
	w, err := wc.Watch(ctx, &corev1.PodList{}, client.InNamespace(s.ns), client.MatchingLabels(labels))
	s.g.Expect(err).NotTo(HaveOccurred())
	p := &podTracker{pods: map[string]*corev1.Pod{}, goneAt: map[string]time.Time{}, evicted: map[string]int{}}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if pod, ok := ev.Object.(*corev1.Pod); ok {
				p.observe(ev.Type, pod)
			}
		}
	}()
	return p
}

func (p *podTracker) observe(kind watch.EventType, pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before, known := p.pods[pod.Name]
	leaving := kind == watch.Deleted || pod.DeletionTimestamp != nil
	if leaving && pod.Spec.NodeName != "" && (!known || before.DeletionTimestamp == nil) {
		p.evicted[pod.Spec.NodeName]++
	}
	if kind == watch.Deleted && pod.Spec.NodeName != "" {
		p.goneAt[pod.Spec.NodeName] = time.Now()
	}
	if kind == watch.Deleted {
		delete(p.pods, pod.Name)
	} else {
		p.pods[pod.Name] = pod
	}
	n := p.availableLocked()
	if n < p.low {
		p.low = n
	}
	if len(p.history) == 0 || !strings.HasSuffix(p.history[len(p.history)-1], fmt.Sprintf(" %d available", n)) {
		p.history = append(p.history, fmt.Sprintf("%s %s %s on %q: %d available",
			time.Now().Format("15:04:05.000"), kind, pod.Name, pod.Spec.NodeName, n))
	}
}

// available is how many pods are Ready and not terminating.
func (p *podTracker) available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.availableLocked()
}

func (p *podTracker) availableLocked() int {
	n := 0
	for _, pod := range p.pods {
		if pod.DeletionTimestamp == nil && podReady(pod) {
			n++
		}
	}
	return n
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// resetLowest starts counting the fewest available pods from now.
func (p *podTracker) resetLowest() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.low = p.availableLocked()
}

func (p *podTracker) lowest() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.low
}

// perNode counts the available pods on each Node.
func (p *podTracker) perNode() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, pod := range p.pods {
		if pod.DeletionTimestamp == nil && podReady(pod) {
			out[pod.Spec.NodeName]++
		}
	}
	return out
}

// timeline is every change of the available count.
func (p *podTracker) timeline() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.history, "\n")
}

// lastGoneFrom is when the last pod left node, and how many left it.
func (p *podTracker) lastGoneFrom(node string) (time.Time, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.goneAt[node], p.evicted[node]
}
