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

// Package servers reconciles the VPSie server behind a VPSieMachine: it finds or creates it, follows it until
// it is up, and deletes it. VPSie answers a create with no identifier, so a server is known by its
// deterministic hostname until it shows up in the VM list; every create is preceded by a fresh lookup that
// adopts what exists, and a successful create is never repeated.
package servers

import (
	"context"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/metrics"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Timing of the server life cycle.
var (
	// PollInterval is how often a machine waiting for its server looks again (it reads the shared snapshot).
	PollInterval = 10 * time.Second
	// UncertainCreateGrace is how long after a create whose answer was lost (network error, 5xx) the
	// provider keeps looking for the server before it may create again.
	UncertainCreateGrace = 2 * time.Minute
	// PendingTooLong is when a server VPSie accepted but never listed is reported on the condition.
	PendingTooLong = 15 * time.Minute
	// RunningPollInterval is how often a provisioned machine checks that its server still exists and runs
	// (from the shared snapshot), so a server stopped or deleted out of band shows in the conditions.
	RunningPollInterval = time.Minute
)

// Service reconciles one machine's server.
type Service struct {
	scope    *scope.MachineScope
	observer *Observer
}

// NewService returns the server service for a machine.
func NewService(s *scope.MachineScope, o *Observer) *Service {
	return &Service{scope: s, observer: o}
}

// Result is what Reconcile found.
type Result struct {
	// Server is the running server, set only once it is up with an address.
	Server *vpsie.VM
	// RequeueAfter asks to look again after this long.
	RequeueAfter time.Duration
}

// Reconcile finds, adopts or creates the machine's server and records its state, addresses and providerID.
func (s *Service) Reconcile(ctx context.Context) (Result, error) {
	m := s.scope.VPSieMachine
	account := s.scope.Account
	hostname := s.scope.Hostname()
	m.Status.Hostname = hostname

	snap, err := s.observer.Snapshot(ctx, account)
	if err != nil {
		return Result{}, fmt.Errorf("listing servers: %w", err)
	}

	if id := s.scope.ServerIdentifier(); id != "" {
		vm, ok := snap.ByIdentifier(id)
		if !ok {
			return s.confirmMissing(ctx, id)
		}
		return s.observe(&vm), nil
	}

	if vm, found := s.adoptable(ctx, snap, hostname); found {
		return s.observe(vm), nil
	}
	if _, pending := snap.ByHostname(hostname); len(pending) > 0 {
		return s.pending("VPSie queues the server's creation"), nil
	}
	if m.Status.ServerState == infrav1.ServerStatePending {
		// VPSie accepted the create: never create again, even if the server is slow to be listed.
		return s.waitForAccepted(), nil
	}
	if s.observer.CreatedWithin(account, hostname, UncertainCreateGrace) {
		return s.pending("waiting for VPSie to list the server this controller asked for"), nil
	}

	if err := s.observer.Refusal(account, hostname, services.TerminalRequeue); err != nil {
		// VPSie refused this very request moments ago; sending it again would only be refused again.
		return Result{}, err
	}

	// About to create: decide on a list taken now, not on one from before a create that might have happened.
	snap, err = s.observer.Fresh(ctx, account)
	if err != nil {
		return Result{}, fmt.Errorf("listing servers before create: %w", err)
	}
	if vm, found := s.adoptable(ctx, snap, hostname); found {
		return s.observe(vm), nil
	}
	if _, pending := snap.ByHostname(hostname); len(pending) > 0 {
		return s.pending("VPSie queues the server's creation"), nil
	}
	return s.create(ctx, hostname)
}

// adoptable picks the server to adopt among those with the machine's hostname: the oldest, so every
// reconcile picks the same one. More than one means something created duplicates; say so.
func (s *Service) adoptable(ctx context.Context, snap *Snapshot, hostname string) (*vpsie.VM, bool) {
	vms, _ := snap.ByHostname(hostname)
	if len(vms) == 0 {
		return nil, false
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].ID < vms[j].ID })
	if len(vms) > 1 {
		ids := make([]string, 0, len(vms))
		for _, vm := range vms {
			ids = append(ids, string(vm.Identifier))
		}
		ctrl.LoggerFrom(ctx).Info("Several servers share this machine's hostname; adopting the oldest, the others are not managed",
			"hostname", hostname, "servers", ids)
	}
	vm := vms[0]
	if s.scope.VPSieMachine.Status.ServerState != infrav1.ServerStatePending {
		// Not the follow-up of our own accepted create: a lost answer, a crash, or status lost in a move.
		metrics.ServerAdoptions.Inc()
	}
	s.scope.SetServer(string(vm.Identifier))
	return &vm, true
}

func (s *Service) create(ctx context.Context, hostname string) (Result, error) {
	userData, keyID, err := s.userData(ctx)
	if err != nil {
		return Result{}, err
	}
	spec := s.scope.VPSieMachine.Spec
	req := vpsie.CreateVMRequest{
		ResourceIdentifier: spec.Plan,
		OSIdentifier:       spec.Image,
		DcIdentifier:       s.scope.Datacenter(),
		Hostname:           hostname,
		ProjectID:          s.scope.VPSieCluster.Spec.ProjectID,
		Notes:              fmt.Sprintf("Cluster API machine %s/%s", s.scope.VPSieMachine.Namespace, s.scope.VPSieMachine.Name),
		SSHKeyIdentifier:   keyID,
		Tags:               s.scope.Tags(),
		AddPublicIPv4:      vpsie.Flag(spec.WantsPublicIPv4()),
		AddPublicIPv6:      vpsie.Flag(spec.WantsPublicIPv6()),
		AddPrivateIP:       vpsie.Flag(spec.WantsPrivateIP() || s.scope.VPSieCluster.Status.Network.VPCID != ""),
		UserData:           userData,
	}
	// Remember the attempt before making it: if the answer is lost, the server may exist all the same.
	s.observer.RecordCreate(s.scope.Account, hostname)
	if err := s.scope.Account.API.CreateVM(ctx, req); err != nil {
		if vpsie.IsTerminal(err) || vpsie.IsUnauthorized(err) {
			// Refused before anything was made (invalid request, bad credentials): no server to wait for.
			err = fmt.Errorf("creating server %s (plan %q, image %q, datacenter %q): %w",
				hostname, req.ResourceIdentifier, req.OSIdentifier, req.DcIdentifier, err)
			s.observer.RecordRefusal(s.scope.Account, hostname, err)
			return Result{}, err
		}
		// The create may have happened: look for it, and create again only after UncertainCreateGrace.
		ctrl.LoggerFrom(ctx).Info("Create call failed; the server may exist all the same, looking for it before any new create",
			"hostname", hostname, "error", err.Error())
		return s.pending("the create call failed (" + err.Error() + "); looking for the server before trying again"), nil
	}
	metrics.ServerCreates.Inc()
	s.scope.SetServerState(infrav1.ServerStatePending)
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.PendingReason,
		Message: "VPSie accepted the server " + hostname + "; waiting for it to be listed",
	})
	return Result{RequeueAfter: PollInterval}, nil
}

// userData merges the bootstrap data with the machine's extra cloud-init and SSH keys, and picks the key
// VPSie installs itself (it takes only one).
func (s *Service) userData(ctx context.Context) ([]byte, string, error) {
	bootstrap, err := s.scope.BootstrapData(ctx)
	if err != nil {
		return nil, "", err
	}
	var parts []cloudinit.Part
	if extra := s.scope.VPSieMachine.Spec.AdditionalCloudInit; extra != "" {
		parts = append(parts, cloudinit.Part{Name: "additional-cloud-init", Content: []byte(extra)})
	}
	keyIDs := s.scope.SSHKeyIdentifiers()
	if len(keyIDs) > 1 {
		publicKeys, err := s.publicKeys(ctx, keyIDs)
		if err != nil {
			return nil, "", err
		}
		part, err := cloudinit.SSHKeysPart(publicKeys)
		if err != nil {
			return nil, "", err
		}
		parts = append(parts, part)
	}
	data, err := cloudinit.Build(bootstrap, parts...)
	if err != nil {
		return nil, "", fmt.Errorf("%w: building user data: %w", services.ErrTerminal, err)
	}
	first := ""
	if len(keyIDs) > 0 {
		first = keyIDs[0]
	}
	return data, first, nil
}

// publicKeys resolves SSH key identifiers (or names) to public key texts from the account.
func (s *Service) publicKeys(ctx context.Context, ids []string) ([]string, error) {
	keys, err := s.scope.Account.API.ListSSHKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing SSH keys: %w", err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		found := false
		for _, k := range keys {
			if string(k.Identifier) == id || string(k.Name) == id {
				out = append(out, string(k.PublicKey))
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: SSH key %q does not exist in the VPSie account", services.ErrTerminal, id)
		}
	}
	return out, nil
}

// observe records what the server's state means for the machine.
func (s *Service) observe(vm *vpsie.VM) Result {
	m := s.scope.VPSieMachine
	s.scope.SetServer(string(vm.Identifier))
	m.Status.FailureDomain = s.failureDomain(vm)
	switch {
	case vm.IsGone():
		return s.notFound(string(vm.Identifier))
	case vm.IsUp():
		s.scope.SetServerState(infrav1.ServerStateRunning)
		m.Status.Addresses = addresses(vm, m.Status.Hostname)
		conditions.Set(m, metav1.Condition{
			Type: infrav1.ServerReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.ProvisionedReason,
			Message: "server " + string(vm.Identifier) + " is running at " + vm.PublicIPv4(),
		})
		return Result{Server: vm, RequeueAfter: RunningPollInterval}
	case vm.Power == 0 || vm.IsSuspended == 1 || vm.IsLocked == 1:
		s.scope.SetServerState(infrav1.ServerStateStopped)
		m.Status.Addresses = addresses(vm, m.Status.Hostname)
		conditions.Set(m, metav1.Condition{
			Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.ServerStoppedReason,
			Message: fmt.Sprintf("server %s is powered off, suspended or locked (power=%d suspended=%d locked=%d); the provider does not start it",
				vm.Identifier, vm.Power, vm.IsSuspended, vm.IsLocked),
		})
		return Result{RequeueAfter: PollInterval}
	default:
		s.scope.SetServerState(infrav1.ServerStateBooting)
		conditions.Set(m, metav1.Condition{
			Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.BootingReason,
			Message: "server " + string(vm.Identifier) + " is booting",
		})
		return Result{RequeueAfter: PollInterval}
	}
}

func (s *Service) failureDomain(vm *vpsie.VM) string {
	if dc := string(vm.DatacenterIdentifier); dc != "" {
		return dc
	}
	return s.scope.Datacenter()
}

// confirmMissing double-checks with a GET that a server absent from the list is really gone: a list can be
// paged or lag behind.
func (s *Service) confirmMissing(ctx context.Context, id string) (Result, error) {
	details, err := s.scope.Account.API.GetVM(ctx, id)
	switch {
	case vpsie.IsNotFound(err):
		return s.notFound(id), nil
	case err != nil:
		return Result{}, fmt.Errorf("reading server %s: %w", id, err)
	}
	return s.observe(&details.VM), nil
}

// notFound reports a server that is gone. The machine is not recreated in place: its Machine is failed
// infrastructure, and a MachineHealthCheck replaces it.
func (s *Service) notFound(id string) Result {
	s.scope.SetServerState(infrav1.ServerStateNotFound)
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.ServerNotFoundReason,
		Message: "server " + id + " no longer exists in VPSie; delete the Machine (a MachineHealthCheck does) to replace it",
	})
	return Result{RequeueAfter: services.TerminalRequeue}
}

func (s *Service) pending(message string) Result {
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.PendingReason, Message: message,
	})
	return Result{RequeueAfter: PollInterval}
}

func (s *Service) waitForAccepted() Result {
	m := s.scope.VPSieMachine
	since := time.Time{}
	if c := conditions.Get(m, infrav1.ServerReadyCondition); c != nil && c.Reason == infrav1.PendingReason {
		since = c.LastTransitionTime.Time
	}
	if !since.IsZero() && time.Since(since) > PendingTooLong {
		return s.pending(fmt.Sprintf("VPSie accepted the server %s %s ago but lists it neither as pending nor as created; "+
			"the provider does not create it again, to never create two. Check the VPSie console; deleting the Machine replaces it",
			m.Status.Hostname, time.Since(since).Round(time.Second)))
	}
	return Result{RequeueAfter: PollInterval}
}

func addresses(vm *vpsie.VM, hostname string) []clusterv1.MachineAddress {
	var out []clusterv1.MachineAddress
	if hostname != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineHostName, Address: hostname})
	}
	if ip := vm.PublicIPv4(); ip != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineExternalIP, Address: ip})
	}
	if ip := string(vm.DefaultIPv6); ip != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineExternalIP, Address: ip})
	}
	if ip := string(vm.PrivateIP); ip != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineInternalIP, Address: ip})
	}
	return out
}
