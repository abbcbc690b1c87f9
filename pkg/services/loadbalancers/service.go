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

// Package loadbalancers reconciles a cluster's control-plane load balancer and its backends. VPSie answers a
// create with no identifier, so the load balancer carries a name derived from the cluster
// (scope.ClusterResourceName) and is created through the provider's one create-or-adopt mechanism (package
// intent), whose lookups read the pending and the listed load balancers. Once the load balancer has an address it becomes
// the cluster's spec.controlPlaneEndpoint.
package loadbalancers

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Timing of the load balancer life cycle.
const (
	// DefaultPollInterval is how often a cluster waiting for its load balancer looks again.
	DefaultPollInterval = 5 * time.Second
	// DefaultDeletePollInterval is how often a deleting cluster checks whether its load balancer is gone.
	DefaultDeletePollInterval = 5 * time.Second
)

// Service reconciles one cluster's control-plane load balancer.
type Service struct {
	scope   *scope.ClusterScope
	intents *intent.Tracker
	pruner  *BackendPruner
	timing  services.PollTiming
}

// NewService returns the load balancer service of a cluster. intents is the controller's create-or-adopt
// tracker; pruner (nil: none) removes backends of servers that are gone; timing's zero fields take the defaults
// above.
func NewService(s *scope.ClusterScope, intents *intent.Tracker, pruner *BackendPruner, timing services.PollTiming) *Service {
	return &Service{scope: s, intents: intents, pruner: pruner,
		timing: timing.OrDefaults(services.PollTiming{Poll: DefaultPollInterval, DeletePoll: DefaultDeletePollInterval})}
}

// Result is what Reconcile found.
type Result = services.Result

// Reconcile makes the control-plane load balancer exist, records it in status.loadBalancer and the
// LoadBalancerReady condition, and sets spec.controlPlaneEndpoint from its address once.
func (s *Service) Reconcile(ctx context.Context) (Result, error) {
	vc := s.scope.VPSieCluster
	if !vc.Spec.ControlPlaneLoadBalancer.IsEnabled() {
		return s.reconcileDisabled()
	}
	api, name := s.scope.Account.API, s.scope.ResourceName()
	st := &vc.Status.LoadBalancer

	lost := ""
	if st.Identifier != "" {
		lb, err := api.GetLoadBalancer(ctx, st.Identifier)
		switch {
		case vpsie.IsNotFound(err):
			lost = st.Identifier
		case err != nil:
			return Result{}, fmt.Errorf("reading load balancer %s: %w", st.Identifier, err)
		default:
			return s.observe(ctx, lb)
		}
	}

	if lost != "" && vc.Spec.ControlPlaneEndpoint.Host != "" {
		// Another load balancer would have another address than the endpoint, which cannot change: adopt one
		// of the cluster's name if there is one, never create.
		lb, err := s.lookup(ctx, name)
		switch {
		case err != nil:
			return Result{}, err
		case lb != nil:
			return s.observe(ctx, lb)
		}
		// Keep the identifier in status, so later reconciles keep reporting it instead of creating.
		return s.notFound(lost), nil
	}
	if lost != "" {
		*st = infrav1.LoadBalancerStatus{CreateIntent: st.CreateIntent}
	}

	var found *vpsie.LoadBalancer
	var create vpsie.CreateLoadBalancerRequest
	req := s.request(name, &found)
	req.Prepare = func(ctx context.Context) error {
		var err error
		create, err = s.createRequest(ctx, name)
		return err
	}
	req.Create = func(ctx context.Context) error { return api.CreateLoadBalancer(ctx, create) }
	out, err := s.intents.Ensure(ctx, req)
	if err != nil {
		return Result{}, err
	}
	switch out.Phase {
	case intent.Found:
		return s.observe(ctx, found)
	case intent.Created:
		ctrl.LoggerFrom(ctx).Info("Created load balancer", "name", name, "plan", create.ResourceIdentifier)
		res := s.waiting(infrav1.PendingReason, out.Waiting(ctx, "the load balancer "+name))
		res.Created = true
		return res, nil
	default:
		return s.waiting(infrav1.PendingReason, out.Waiting(ctx, "the load balancer "+name)), nil
	}
}

// request is the load balancer's create-or-adopt. Its lookup reads the pending load balancers first, then the
// list (a load balancer leaving the queue between the two reads is then listed), and keeps the cluster's in
// found.
func (s *Service) request(name string, found **vpsie.LoadBalancer) intent.Request {
	spec := s.scope.VPSieCluster.Spec.ControlPlaneLoadBalancer
	return intent.Request{
		Kind: "load balancer", Account: s.scope.Account.Key, Name: name,
		Fingerprint: services.Fingerprint(name, spec.Plan, string(spec.EffectiveAlgorithm()),
			strconv.Itoa(int(spec.EffectivePort())), s.scope.Datacenter()),
		Intent: &s.scope.VPSieCluster.Status.LoadBalancer.CreateIntent, Persist: s.scope.PatchNow,
		Lookup: func(ctx context.Context, _ bool) (intent.Observation, error) {
			pending, err := s.pendingNamed(ctx, name)
			if err != nil {
				return intent.Observation{}, err
			}
			lb, err := s.lookup(ctx, name)
			switch {
			case err != nil:
				return intent.Observation{}, err
			case lb != nil:
				*found = lb
				return intent.Observation{Sight: intent.Listed}, nil
			case pending:
				return intent.Observation{Sight: intent.Queued}, nil
			}
			return intent.Observation{Sight: intent.Absent}, nil
		},
	}
}

func (s *Service) createRequest(ctx context.Context, name string) (vpsie.CreateLoadBalancerRequest, error) {
	spec := s.scope.VPSieCluster.Spec.ControlPlaneLoadBalancer
	plan, err := s.plan(ctx)
	if err != nil {
		return vpsie.CreateLoadBalancerRequest{}, err
	}
	port := strconv.Itoa(int(spec.EffectivePort()))
	return vpsie.CreateLoadBalancerRequest{
		Name:               name,
		Algorithm:          string(spec.EffectiveAlgorithm()),
		ResourceIdentifier: plan,
		DcIdentifier:       s.scope.Datacenter(),
		Rules:              []vpsie.LBRuleSpec{{Scheme: "tcp", FrontPort: port, BackPort: port, Backends: []vpsie.BackendTarget{}}},
	}, nil
}

// plan is the load balancer plan: the spec's, or else the first VPSie offers in the cluster's datacenter.
func (s *Service) plan(ctx context.Context) (string, error) {
	if p := s.scope.VPSieCluster.Spec.ControlPlaneLoadBalancer.Plan; p != "" {
		return p, nil
	}
	offers, err := s.scope.Account.API.ListLoadBalancerOffers(ctx, s.scope.Datacenter())
	if err != nil {
		return "", fmt.Errorf("listing the load balancer plans of datacenter %s: %w", s.scope.Datacenter(), err)
	}
	if len(offers) == 0 {
		return "", fmt.Errorf("%w: VPSie offers no load balancer plan in datacenter %s: choose another datacenter, "+
			"or disable the load balancer and give spec.controlPlaneEndpoint", services.ErrTerminal, s.scope.Datacenter())
	}
	return string(offers[0].Identifier), nil
}

// lookup lists the load balancers and reads the cluster's with its rules: the oldest with its name, so every
// reconcile picks the same one.
func (s *Service) lookup(ctx context.Context, name string) (*vpsie.LoadBalancer, error) {
	api := s.scope.Account.API
	lbs, err := api.ListLoadBalancers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing load balancers: %w", err)
	}
	found := vpsie.FindLoadBalancersByName(lbs, name)
	if len(found) == 0 {
		return nil, nil
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].CreatedOn != found[j].CreatedOn {
			return found[i].CreatedOn < found[j].CreatedOn
		}
		return found[i].Identifier < found[j].Identifier
	})
	if len(found) > 1 {
		ctrl.LoggerFrom(ctx).Info("Several load balancers share this cluster's load balancer name; using the oldest",
			"name", name, "count", len(found))
	}
	lb, err := api.GetLoadBalancer(ctx, string(found[0].Identifier))
	if err != nil {
		return nil, fmt.Errorf("reading load balancer %s: %w", found[0].Identifier, err)
	}
	return lb, nil
}

func (s *Service) pendingNamed(ctx context.Context, name string) (bool, error) {
	pending, err := s.scope.Account.API.ListPendingLoadBalancers(ctx)
	switch {
	case vpsie.IsNotFound(err):
		// An account's API may lack this optional route: decisions then rest on the list and the create grace.
		return false, nil
	case err != nil:
		return false, fmt.Errorf("listing pending load balancers: %w", err)
	}
	for _, p := range pending {
		if string(p.Data.Name) == name {
			return true, nil
		}
	}
	return false, nil
}

// observe records what the load balancer's state means for the cluster.
func (s *Service) observe(ctx context.Context, lb *vpsie.LoadBalancer) (Result, error) {
	vc := s.scope.VPSieCluster
	st := &vc.Status.LoadBalancer
	id := string(lb.Identifier)
	if st.Identifier != id {
		// First sight of it (just created, adopted after a lost answer or a move): mark it as the cluster's.
		// Best effort: the name already ties it to the cluster, and tags are not worth blocking the cluster on.
		if err := s.scope.Account.API.SetTags(ctx, "lb", id, s.scope.Tags()); err != nil {
			ctrl.LoggerFrom(ctx).Info("Could not tag the load balancer", "loadBalancer", id, "error", err.Error())
		}
	}
	*st = infrav1.LoadBalancerStatus{Identifier: id, Name: string(lb.Name), IP: string(lb.DefaultIP)} // the intent is done
	port := vc.Spec.ControlPlaneLoadBalancer.EffectivePort()
	if st.IP == "" {
		return s.waiting(infrav1.WaitingForControlPlaneEndpointReason,
			fmt.Sprintf("load balancer %s (%s) has no address yet", lb.Name, id)), nil
	}
	if FindRule(lb, port) == nil {
		return Result{}, fmt.Errorf("%w: load balancer %s (%s) has no rule for port %d; add a tcp rule %d->%d in VPSie or delete the load balancer",
			services.ErrTerminal, lb.Name, id, port, port, port)
	}
	ep := &vc.Spec.ControlPlaneEndpoint
	if ep.Host == "" {
		*ep = clusterv1.APIEndpoint{Host: st.IP, Port: port}
	} else if ep.Port == 0 {
		ep.Port = port
	}
	msg := fmt.Sprintf("load balancer %s (%s) listens on %s:%d", lb.Name, id, st.IP, port)
	if ep.Host != st.IP {
		msg += fmt.Sprintf("; spec.controlPlaneEndpoint is %s:%d as given by the user", ep.Host, ep.Port)
	}
	conditions.Set(vc, metav1.Condition{
		Type: infrav1.LoadBalancerReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.ProvisionedReason, Message: msg,
	})
	removed, err := s.pruner.Prune(ctx, s.scope.Account, lb)
	if len(removed) > 0 {
		ctrl.LoggerFrom(ctx).Info("Removed load balancer backends of servers that are gone", "loadBalancer", id, "servers", removed)
	}
	if err != nil {
		// The load balancer itself is fine; the check runs again at its next interval.
		ctrl.LoggerFrom(ctx).Info("Could not check the load balancer's backends", "loadBalancer", id, "error", err.Error())
	}
	res := Result{Ready: true, PrunedBackends: removed}
	if s.pruner != nil {
		res.RequeueAfter = s.pruner.Every() // look again: servers may vanish out of band
	}
	return res, nil
}

// reconcileDisabled accepts the user's endpoint when no load balancer is wanted.
func (s *Service) reconcileDisabled() (Result, error) {
	vc := s.scope.VPSieCluster
	vc.Status.LoadBalancer = infrav1.LoadBalancerStatus{}
	ep := &vc.Spec.ControlPlaneEndpoint
	if ep.Host == "" {
		return Result{}, fmt.Errorf("%w: spec.controlPlaneEndpoint.host is required when spec.controlPlaneLoadBalancer.enabled is false",
			services.ErrTerminal)
	}
	if ep.Port == 0 {
		ep.Port = infrav1.DefaultAPIServerPort
	}
	conditions.Set(vc, metav1.Condition{
		Type: infrav1.LoadBalancerReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.DisabledReason,
		Message: fmt.Sprintf("no control-plane load balancer (spec.controlPlaneLoadBalancer.enabled is false); the endpoint %s:%d is the user's",
			ep.Host, ep.Port),
	})
	return Result{Ready: true}, nil
}

func (s *Service) notFound(id string) Result {
	vc := s.scope.VPSieCluster
	conditions.Set(vc, metav1.Condition{
		Type: infrav1.LoadBalancerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.LoadBalancerNotFoundReason,
		Message: fmt.Sprintf("the load balancer %s no longer exists in VPSie; the provider does not create another because its "+
			"address would differ from spec.controlPlaneEndpoint %s, which cannot change. Recreate the cluster, or restore a "+
			"load balancer named %s forwarding to the control plane", id, vc.Spec.ControlPlaneEndpoint.Host, s.scope.ResourceName()),
	})
	return Result{RequeueAfter: services.TerminalRequeue}
}

func (s *Service) waiting(reason, message string) Result {
	conditions.Set(s.scope.VPSieCluster, metav1.Condition{
		Type: infrav1.LoadBalancerReadyCondition, Status: metav1.ConditionFalse, Reason: reason, Message: message,
	})
	return Result{RequeueAfter: s.timing.Poll}
}

// FindRule returns the load balancer's rule listening on port, or nil.
func FindRule(lb *vpsie.LoadBalancer, port int32) *vpsie.LBRule {
	for i := range lb.Rules {
		if int64(lb.Rules[i].FrontPort) == int64(port) {
			return &lb.Rules[i]
		}
	}
	return nil
}
