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

package vpsiesim

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// VPC is a private network in one datacenter.
type VPC struct {
	ID           int       `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	DCIdentifier string    `json:"dcIdentifier"`
	NetworkRange string    `json:"networkRange"` // network address, e.g. "10.10.0.0"
	NetworkSize  int       `json:"networkSize"`  // prefix length, e.g. 24
	VMs          []string  `json:"vms"`          // identifiers of attached VMs
	CreatedAt    time.Time `json:"createdAt"`
	// ListedAt is when GET /apps/v2/vpc lists it (CreatedAt + Faults.ListLag).
	ListedAt time.Time `json:"listedAt,omitzero"`
	nextHost int
	// rangeGiven is networkRange as the create sent it (CIDR for autoGenerate), for Faults.VPCOmitNetworkSize.
	rangeGiven string
}

func (v *VPC) clone() VPC {
	c := *v
	c.VMs = slices.Clone(v.VMs)
	return c
}

func (v *VPC) prefix() netip.Prefix {
	return netip.PrefixFrom(netip.MustParseAddr(v.NetworkRange), v.NetworkSize)
}

// vpcJSON renders a VPC as GET /apps/v2/vpc and GET /apps/v2/vpc/{id} send it, in the wire format the faults
// ask for (Faults.VPCOmitNetworkSize, Faults.VPCNumbersAsStrings).
func (s *Simulator) vpcJSON(v *VPC, f Faults) map[string]any {
	dc, _ := s.catalog.datacenterByID(v.DCIdentifier)
	out := map[string]any{
		"id": v.ID, "name": v.Name, "description": v.Description, "network_range": v.NetworkRange,
		"network_size": strconv.Itoa(v.NetworkSize), "datacenter_id": dc.ID, "dc_identifier": v.DCIdentifier,
		"is_default": 0, "created_on": apiTime(v.CreatedAt), "vms_count": len(v.VMs),
	}
	if f.VPCOmitNetworkSize {
		delete(out, "network_size")
		out["network_range"] = v.rangeGiven
	}
	if f.VPCNumbersAsStrings {
		for k, val := range out {
			if n, ok := val.(int); ok {
				out[k] = strconv.Itoa(n)
			}
		}
	}
	return out
}

func (s *Simulator) sortedVPCsLocked() []*VPC {
	out := make([]*VPC, 0, len(s.vpcs))
	for _, v := range s.vpcs {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *VPC) int { return a.ID - b.ID })
	return out
}

// handleListVPCs serves GET /apps/v2/vpc (?offset=&limit=), lagging by Faults.ListLag.
func (s *Simulator) handleListVPCs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := s.listedVPCsLocked(time.Now())
	s.mu.Unlock()
	lo, hi := s.page(r, len(out))
	writeList(w, out[lo:hi], len(out))
}

// handleGetVPC serves GET /apps/v2/vpc/{id}: the VPC plus "vms" [{identifier, hostname, private_ip}].
func (s *Simulator) handleGetVPC(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	v := s.vpcs[id]
	if v == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, msgVPCNotFound)
		return
	}
	out := s.vpcJSON(v, s.modes())
	var vms []map[string]any
	for _, vid := range v.VMs {
		if vm := s.vms[vid]; vm != nil {
			vms = append(vms, map[string]any{"identifier": vm.Identifier, "hostname": vm.Hostname, "private_ip": vm.PrivateIP})
		}
	}
	out["vms"] = orEmpty(vms)
	s.mu.Unlock()
	writeObject(w, out)
}

type createVPCRequest struct {
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	DCIdentifier string  `json:"dcIdentifier"`
	NetworkRange string  `json:"networkRange"`
	NetworkSize  flexInt `json:"networkSize"`
	AutoGenerate flexInt `json:"autoGenerate"`
}

// handleCreateVPC serves POST /apps/v2/vpc/add. No id is returned: the VPC is found by name. Names need not
// be unique. autoGenerate=1 picks a free 10.x.0.0/24; otherwise networkRange (a private IPv4 network address,
// "/size" optional) and networkSize (8..29) are required and must not overlap another VPC in the datacenter.
func (s *Simulator) handleCreateVPC(w http.ResponseWriter, r *http.Request) {
	var in createVPCRequest
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if strings.TrimSpace(in.Name) == "" {
		writeError(w, http.StatusBadRequest, "name is required")
		return
	}
	dc, ok := s.catalog.datacenterByID(in.DCIdentifier)
	if !ok || dc.Disabled {
		writeError(w, http.StatusBadRequest, "Invalid dcIdentifier: datacenter not found")
		return
	}
	s.mu.Lock()
	msg := s.createVPCLocked(in)
	s.mu.Unlock()
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	writeBool(w, true)
}

func (s *Simulator) createVPCLocked(in createVPCRequest) string {
	var pfx netip.Prefix
	given := strings.TrimSpace(in.NetworkRange)
	if in.AutoGenerate.Value == 1 {
		for i := 0; i < 246; i++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(10 + i), 0, 0}), 24)
			if !s.overlapsLocked(in.DCIdentifier, p) {
				pfx = p
				break
			}
		}
		if !pfx.IsValid() {
			return "No free network range left"
		}
		given = pfx.String()
	} else {
		rng, size := strings.TrimSpace(in.NetworkRange), in.NetworkSize.Value
		if a, b, ok := strings.Cut(rng, "/"); ok {
			rng = a
			if n, err := strconv.Atoi(b); err == nil && !in.NetworkSize.Set {
				size = n
			}
		}
		addr, err := netip.ParseAddr(rng)
		switch {
		case rng == "":
			return "networkRange is required (or autoGenerate 1)"
		case err != nil || !addr.Is4():
			return "Invalid networkRange"
		case size < 8 || size > 29:
			return "networkSize must be between 8 and 29"
		case !addr.IsPrivate():
			return "networkRange must be a private range"
		}
		pfx = netip.PrefixFrom(addr, size).Masked()
		if s.overlapsLocked(in.DCIdentifier, pfx) {
			return "networkRange overlaps an existing VPC"
		}
	}
	id := s.nextID("vpc", 400)
	now := time.Now()
	s.vpcs[id] = &VPC{ID: id, Name: in.Name, Description: in.Description, DCIdentifier: in.DCIdentifier,
		NetworkRange: pfx.Addr().String(), NetworkSize: pfx.Bits(), VMs: []string{}, CreatedAt: now,
		ListedAt: now.Add(s.modes().ListLag), rangeGiven: given}
	return ""
}

func (s *Simulator) overlapsLocked(dc string, p netip.Prefix) bool {
	for _, v := range s.vpcs {
		if v.DCIdentifier == dc && v.prefix().Overlaps(p) {
			return true
		}
	}
	return false
}

// handleDeleteVPC serves DELETE /apps/v2/vpc/{id} {deleteStatistic}. A reason is required (400); an unknown
// id answers 404; a VPC with attached VMs is refused (400) until they are detached or deleted.
func (s *Simulator) handleDeleteVPC(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DeleteStatistic *deleteStatistic `json:"deleteStatistic"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	if in.DeleteStatistic == nil || strings.TrimSpace(in.DeleteStatistic.Reason) == "" {
		writeError(w, http.StatusBadRequest, msgReasonRequired)
		return
	}
	id, _ := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	v := s.vpcs[id]
	status, msg := 0, ""
	switch {
	case v == nil:
		status, msg = http.StatusNotFound, msgVPCNotFound
	case len(v.VMs) > 0:
		status, msg = http.StatusBadRequest, fmt.Sprintf("VPC has %d attached server(s); detach them first", len(v.VMs))
	default:
		gone := v.clone()
		s.buryLocked(&s.vpcGhosts, id, v.ListedAt, func(f Faults) map[string]any { return s.vpcJSON(&gone, f) })
		delete(s.vpcs, id)
	}
	s.mu.Unlock()
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	writeBool(w, true)
}

type attachVPCRequest struct {
	vmRef
	VPCID        flexString `json:"vpcId"`
	DCIdentifier string     `json:"dcIdentifier"`
}

// msgAlreadyInThisVPC answers an attach to the VPC the VM is already in, with Faults.AlreadyAttachedError.
const msgAlreadyInThisVPC = "VM is already attached to this VPC"

// handleAttachVPC serves POST /apps/v2/vm/add/vpc {vmIdentifier, vpcId (int or string), dcIdentifier}. The VM
// gets the next address of the VPC as its private IP (replacing a default-network private IP), at once or,
// with Faults.AsyncVPCAttach, later: the answer then only says the attach was accepted.
func (s *Simulator) handleAttachVPC(w http.ResponseWriter, r *http.Request) {
	in := &attachVPCRequest{}
	s.withVMRefusal(w, r, in, func(vm *VM) *refusal {
		f := s.modes()
		id, _ := strconv.Atoi(string(in.VPCID))
		vpc := s.vpcs[id]
		switch {
		case vpc == nil:
			return refuse(msgVPCNotFound)
		case vpc.DCIdentifier != vm.DCIdentifier || (in.DCIdentifier != "" && in.DCIdentifier != vpc.DCIdentifier):
			return refuse("VPC and VM are in different datacenters")
		case f.AlreadyAttachedError && (vm.VPCID == id || vm.PendingVPCID == id):
			return &refusal{httpStatus: http.StatusOK, code: http.StatusBadRequest, msg: msgAlreadyInThisVPC}
		case vm.VPCID != 0 || vm.PendingVPCID != 0:
			return refuse("VM is already attached to a VPC")
		}
		if _, ok := vpc.freeAddr(); !ok {
			return refuse("No free address left in the VPC")
		}
		if f.AsyncVPCAttach > 0 {
			vm.PendingVPCID, vm.VPCAttachAt = id, time.Now().Add(f.AsyncVPCAttach)
			vmID := vm.Identifier
			s.scheduleLocked("vpc:"+vmID, f.AsyncVPCAttach, func() { s.attachFromTimer(vmID) })
			return nil
		}
		s.joinVPCLocked(vm, vpc)
		return nil
	})
}

// freeAddr is the address the next member of the VPC gets.
func (v *VPC) freeAddr() (netip.Addr, bool) {
	pfx := v.prefix()
	host := max(v.nextHost, 2) // .1 is the gateway
	ip := addrAdd(pfx.Addr(), host)
	if !pfx.Contains(ip) || ip == addrAdd(pfx.Addr(), 1<<(32-pfx.Bits())-1) {
		return netip.Addr{}, false
	}
	return ip, true
}

// joinVPCLocked makes vm a member of vpc with the VPC's next address. It reports false when none is left.
func (s *Simulator) joinVPCLocked(vm *VM, vpc *VPC) bool {
	ip, ok := vpc.freeAddr()
	if !ok {
		return false
	}
	vpc.nextHost = max(vpc.nextHost, 2) + 1
	vpc.VMs = append(vpc.VMs, vm.Identifier)
	vm.VPCID, vm.PrivateIP, vm.PrivateIPID = vpc.ID, ip.String(), s.nextID("privateip", 700)
	return true
}

// attachFromTimer completes an asynchronous attach. It fails silently, as an accepted background job would,
// when the VM or the VPC went meanwhile or the VPC filled up.
func (s *Simulator) attachFromTimer(vmID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	delete(s.timers, "vpc:"+vmID)
	vm := s.vms[vmID]
	if vm == nil || vm.PendingVPCID == 0 {
		return
	}
	if vpc := s.vpcs[vm.PendingVPCID]; vpc != nil && vm.Live() && vm.VPCID == 0 && s.joinVPCLocked(vm, vpc) {
		vm.UpdatedAt = time.Now()
	}
	vm.PendingVPCID, vm.VPCAttachAt = 0, time.Time{}
}

type detachVPCRequest struct {
	vmRef
	PrivateIPID flexInt `json:"privateIpId"`
}

// handleDetachVPC serves DELETE /apps/v2/vm/vpc {vmIdentifier, privateIpId}: privateIpId is the id from the
// VM's privateIpData (GET /vm/{identifier}). The VM loses its private IP.
func (s *Simulator) handleDetachVPC(w http.ResponseWriter, r *http.Request) {
	in := &detachVPCRequest{}
	s.withVM(w, r, in, func(vm *VM) string {
		if vm.PrivateIPID == 0 || in.PrivateIPID.Value != vm.PrivateIPID {
			return "Private IP not found"
		}
		if vpc := s.vpcs[vm.VPCID]; vpc != nil {
			vpc.VMs = slices.DeleteFunc(vpc.VMs, func(id string) bool { return id == vm.Identifier })
		}
		vm.VPCID, vm.PrivateIP, vm.PrivateIPID = 0, "", 0
		return ""
	})
}
