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
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// VMState is the simulator's lifecycle state of a VM. The API itself shows no status string on VmData (state is
// the power and is_* flags); VMState exists for tests and /_sim/state.
type VMState string

// VM lifecycle states.
const (
	VMPending  VMState = "pending"  // in /vm/pending, not in /vm
	VMBooting  VMState = "booting"  // out of the queue, listed with power 0 and no addresses (Faults.BootListedUnpowered)
	VMRunning  VMState = "running"  // listed, power 1
	VMStopped  VMState = "stopped"  // listed, power 0
	VMDeleting VMState = "deleting" // deleted through the API, still listed during Options.DeleteDelay
	VMDeleted  VMState = "deleted"  // gone (deleted through the API)
	VMVanished VMState = "vanished" // gone without the API (VanishVM)
)

// VM is the simulator's record of a server, the ground truth behind whatever (possibly lagging) view the API
// gives. Identifier is assigned at create time (the API does not reveal it until the VM boots); ID when it
// leaves the pending queue; addresses and BootedAt when it is up (the OnVMBoot moment).
type VM struct {
	ID         int     `json:"id"`
	PendingID  int     `json:"pendingId"`
	Identifier string  `json:"identifier"`
	Hostname   string  `json:"hostname"`
	State      VMState `json:"state"`
	// Stuck is set when the boot delay ended but Faults.NeverBoot kept the VM pending.
	Stuck bool `json:"stuck,omitempty"`
	// Prefix is the route prefix the create came through ("/api/v2" or "/apps/v2").
	Prefix string `json:"prefix"`

	DCIdentifier   string `json:"dcIdentifier"`
	PlanIdentifier string `json:"planIdentifier"`
	OSIdentifier   string `json:"osIdentifier"`
	ProjectID      string `json:"projectId,omitempty"`
	CPU            int    `json:"cpu"`
	RAM            int    `json:"ram"`
	SSD            int    `json:"ssd"`
	Traffic        int    `json:"traffic"`

	PublicIPv4  string `json:"publicIpv4,omitempty"`
	PublicIPv6  string `json:"publicIpv6,omitempty"`
	PrivateIP   string `json:"privateIp,omitempty"`
	PrivateIPID int    `json:"privateIpId,omitempty"`
	VPCID       int    `json:"vpcId,omitempty"`

	Tags             []string `json:"tags"`
	SSHKeyIdentifier string   `json:"sshKeyIdentifier,omitempty"`
	ScriptIdentifier string   `json:"scriptIdentifier,omitempty"`
	ScriptsRun       []string `json:"scriptsRun,omitempty"`
	// UserData is the base64 text as sent; see DecodedUserData.
	UserData string `json:"userData,omitempty"`
	Notes    string `json:"notes,omitempty"`

	AddPublicIPv4        bool `json:"addPublicIpV4"`
	AddPublicIPv6        bool `json:"addPublicIpV6"`
	AddPrivateIP         bool `json:"addPrivateIp"`
	BackupEnabled        bool `json:"backupEnabled"`
	WeeklyBackupEnabled  bool `json:"weeklyBackupEnabled"`
	MonthlyBackupEnabled bool `json:"monthlyBackupEnabled"`
	// NumericFlags names the create flags that arrived as JSON numbers instead of "0"/"1" strings.
	NumericFlags []string `json:"numericFlags,omitempty"`
	// CreateRequest is the create body as received, with vmPassword removed.
	CreateRequest json.RawMessage `json:"createRequest,omitempty"`

	// PendingVPCID is the VPC the VM is joining (Faults.AsyncVPCAttach) at VPCAttachAt; VPCID once it joined.
	PendingVPCID int       `json:"pendingVpcId,omitempty"`
	VPCAttachAt  time.Time `json:"vpcAttachAt,omitzero"`

	Restarts  int       `json:"restarts,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// QueuedAt is when the VM shows in the pending queue (CreatedAt + Faults.PendingLag).
	QueuedAt time.Time `json:"queuedAt,omitzero"`
	// LeftPendingAt is when it left the queue; VisibleAt when calls naming it find it (LeftPendingAt +
	// Faults.ListGap); ListedAt when GET /vm lists it (VisibleAt + Faults.ListLag). For a VM that is gone,
	// UnlistAt is when a lagging GET /vm stops showing it (zero without ListLag).
	LeftPendingAt     time.Time `json:"leftPendingAt,omitzero"`
	VisibleAt         time.Time `json:"visibleAt,omitzero"`
	ListedAt          time.Time `json:"listedAt,omitzero"`
	UnlistAt          time.Time `json:"unlistAt,omitzero"`
	BootedAt          time.Time `json:"bootedAt,omitzero"`
	PoweredAt         time.Time `json:"poweredAt,omitzero"`
	DeleteRequestedAt time.Time `json:"deleteRequestedAt,omitzero"`
	DeletedAt         time.Time `json:"deletedAt,omitzero"`
	DeleteReason      string    `json:"deleteReason,omitempty"`
	DeleteNote        string    `json:"deleteNote,omitempty"`
	UpdatedAt         time.Time `json:"updatedAt"`

	// lastSeen is the VmData a lagging GET /vm keeps showing after the VM went (Faults.ListLag).
	lastSeen map[string]any
}

// DecodedUserData decodes UserData (standard base64, padding optional).
func (v VM) DecodedUserData() ([]byte, error) { return decodeBase64(v.UserData) }

// CreateField returns the raw JSON of one field of the create request (e.g. `"1"` or `1` for addPublicIpV4),
// or nil when it was absent.
func (v VM) CreateField(name string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(v.CreateRequest, &m) != nil {
		return nil
	}
	return m[name]
}

// Live reports whether the VM still exists in the cloud (pending, running, stopped or being deleted).
func (v VM) Live() bool { return v.State != VMDeleted && v.State != VMVanished }

// listed reports whether the VM is out of the pending queue and still exists: what an up-to-date GET /vm
// would show (see shown and the lagging list in listview.go).
func (v *VM) listed() bool {
	return v.State == VMBooting || v.State == VMRunning || v.State == VMStopped || v.State == VMDeleting
}

func (v *VM) clone() VM {
	c := *v
	c.Tags = slices.Clone(v.Tags)
	c.ScriptsRun = slices.Clone(v.ScriptsRun)
	c.NumericFlags = slices.Clone(v.NumericFlags)
	return c
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

type createVMRequest struct {
	ResourceIdentifier string     `json:"resourceIdentifier"`
	OSIdentifier       string     `json:"osIdentifier"`
	DCIdentifier       string     `json:"dcIdentifier"`
	Hostname           string     `json:"hostname"`
	ProjectID          flexString `json:"projectId"`
	VMPassword         string     `json:"vmPassword"`
	ProcessID          flexString `json:"processId"`
	Notes              string     `json:"notes"`
	ScriptIdentifier   string     `json:"scriptIdentifier"`
	SSHKeyIdentifier   string     `json:"sshKeyIdentifier"`
	UserData           string     `json:"userData"`
	Tags               []string   `json:"tags"`
	SSD                flexInt    `json:"ssd"`
	// Flags are read from the raw body by name (see parseFlag) so that errors can name the field.
}

// handleCreateVM serves POST {prefix}/vm. It answers data:true and nothing else: the VM appears in
// /apps/v2/vm/pending and, after the boot delay, in GET /vm.
func (s *Simulator) handleCreateVM(prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in createVMRequest
		raw, ok := decodeBody(w, r, &in)
		if !ok {
			return
		}
		if msg := s.validateCreateVM(&in); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		vm := &VM{
			Prefix: prefix, Hostname: in.Hostname, State: VMPending, Identifier: newUUID(),
			DCIdentifier: in.DCIdentifier, PlanIdentifier: in.ResourceIdentifier, OSIdentifier: in.OSIdentifier,
			ProjectID: string(in.ProjectID), Tags: uniqueStrings(in.Tags), SSHKeyIdentifier: in.SSHKeyIdentifier,
			ScriptIdentifier: in.ScriptIdentifier, UserData: in.UserData, Notes: in.Notes,
			CreateRequest: redact(raw, "vmPassword"),
		}
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(raw, &fields)
		flags := []struct {
			name string
			dst  *bool
			def  bool
		}{
			{"addPublicIpV4", &vm.AddPublicIPv4, true},
			{"addPublicIpV6", &vm.AddPublicIPv6, false},
			{"addPrivateIp", &vm.AddPrivateIP, false},
			{"backupEnabled", &vm.BackupEnabled, false},
			{"weeklyBackupEnabled", &vm.WeeklyBackupEnabled, false},
			{"monthlyBackupEnabled", &vm.MonthlyBackupEnabled, false},
		}
		for _, f := range flags {
			*f.dst = f.def
			var fl flag
			if rawFlag, ok := fields[f.name]; ok {
				if err := fl.UnmarshalJSON(rawFlag); err != nil {
					writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be \"0\" or \"1\"", f.name))
					return
				}
			}
			if fl.Numeric {
				vm.NumericFlags = append(vm.NumericFlags, f.name)
			}
			if fl.Set && (!fl.Numeric || !s.opts.IgnoreNumericFlags) {
				*f.dst = fl.Value
			}
		}
		plan, _ := s.catalog.planByID(in.ResourceIdentifier)
		vm.CPU, vm.RAM, vm.SSD, vm.Traffic = plan.CPU, plan.RAM, plan.SSD, plan.Traffic
		if in.SSD.Value > 0 {
			vm.SSD = in.SSD.Value
		}

		s.mu.Lock()
		if q := s.vmQuota(); q > 0 && s.liveVMCount() >= q {
			s.mu.Unlock()
			writeErrorCode(w, http.StatusOK, http.StatusInternalServerError, fmt.Sprintf("VM count exceeds the allowed limit %d", q))
			return
		}
		now := time.Now()
		lag := s.modes().PendingLag
		vm.CreatedAt, vm.UpdatedAt, vm.QueuedAt = now, now, now.Add(lag)
		vm.PendingID = s.nextID("pending", 5000)
		s.vms[vm.Identifier] = vm
		s.vmOrder = append(s.vmOrder, vm.Identifier)
		s.registerTagsLocked(vm.Tags)
		var booted []VM
		if s.opts.BootDelay < 0 && lag == 0 {
			booted = s.tryBootLocked(vm)
		} else {
			// The pending time starts once the VM shows in the queue, so that it is visibly pending at all.
			id := vm.Identifier
			s.scheduleLocked("boot:"+id, lag+max(s.opts.BootDelay, 0), func() { s.bootFromTimer(id) })
		}
		hooks := slices.Clone(s.bootHooks)
		s.mu.Unlock()
		runHooks(hooks, booted)
		writeBool(w, true)
	}
}

// validateCreateVM returns the error message for an invalid create request, or "".
func (s *Simulator) validateCreateVM(in *createVMRequest) string {
	cat := &s.catalog
	switch {
	case strings.TrimSpace(in.Hostname) == "":
		return "hostname is required"
	case !hostnameRE.MatchString(in.Hostname):
		return "Invalid hostname"
	case in.DCIdentifier == "":
		return "dcIdentifier is required"
	case in.ResourceIdentifier == "":
		return "resourceIdentifier is required"
	case in.OSIdentifier == "":
		return "osIdentifier is required"
	}
	dc, ok := cat.datacenterByID(in.DCIdentifier)
	if !ok {
		return "Invalid dcIdentifier: datacenter not found"
	}
	if dc.Disabled {
		return "Datacenter is not available"
	}
	plan, ok := cat.planByID(in.ResourceIdentifier)
	if !ok {
		return "Invalid resourceIdentifier: plan not found"
	}
	if !plan.availableIn(dc.Identifier) {
		return "Plan is not available in this datacenter"
	}
	img, ok := cat.imageByID(in.OSIdentifier)
	if !ok {
		return "Invalid osIdentifier: image not found"
	}
	if img.Custom && img.Datacenter != dc.Identifier {
		return "Image is not available in this datacenter"
	}
	if in.UserData != "" {
		if _, err := decodeBase64(in.UserData); err != nil {
			return "userData must be base64 encoded"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.SSHKeyIdentifier != "" && s.sshKeyLocked(in.SSHKeyIdentifier) == nil {
		return "SSH key not found"
	}
	if in.ScriptIdentifier != "" && s.scriptLocked(in.ScriptIdentifier) == nil {
		return "Script not found"
	}
	return ""
}

// redact removes fields from a JSON object.
func redact(raw []byte, fields ...string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	for _, f := range fields {
		delete(m, f)
	}
	b, _ := json.Marshal(m)
	return b
}

func uniqueStrings(in []string) []string {
	out := []string{}
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" && !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func (s *Simulator) liveVMCount() int {
	n := 0
	for _, v := range s.vms {
		if v.Live() {
			n++
		}
	}
	return n
}

// nextID returns the next number of a sequence that starts after base.
func (s *Simulator) nextID(kind string, base int) int {
	s.seq[kind]++
	return base + s.seq[kind]
}

// vmJSON renders a VM as VmData.
func (s *Simulator) vmJSON(v *VM) map[string]any {
	dc, _ := s.catalog.datacenterByID(v.DCIdentifier)
	plan, _ := s.catalog.planByID(v.PlanIdentifier)
	img, _ := s.catalog.imageByID(v.OSIdentifier)
	public4, public6, privateIP := v.shownAddresses()
	var private, public any
	if privateIP != "" {
		private = privateIP
	}
	if public4 != "" {
		public = public4
	}
	defaultIP := public4
	if defaultIP == "" {
		defaultIP = privateIP
	}
	added := 0
	for _, ip := range []string{public4, public6, privateIP} {
		if ip != "" {
			added++
		}
	}
	return map[string]any{
		"id": v.ID, "identifier": v.Identifier, "hostname": v.Hostname, "fullname": "Simulated User",
		"dcIdentifier": v.DCIdentifier, "datacenter_id": dc.ID, "boxsize_id": plan.ID, "boximage_id": img.ID,
		"ram": v.RAM, "cpu": v.CPU, "ssd": v.SSD, "traffic": v.Traffic,
		"default_ip": defaultIP, "default_ipv6": public6, "private_ip": private, "publicIp": public,
		"added_ip_addresses": added, "power": b2i(v.State == VMRunning), "is_active": b2i(v.State != VMDeleting),
		"is_deleted": 0, "is_locked": 0, "is_suspended": 0, "is_terminated": 0, "state": dc.State,
		"created_on": apiTime(v.CreatedAt), "last_updated": apiTime(v.UpdatedAt),
		"projectId": v.ProjectID, "project_id": v.ProjectID, "vmDescription": v.Notes, "category": img.Category,
		"tags": slices.Clone(v.Tags), "osIdentifier": v.OSIdentifier, "resourceIdentifier": v.PlanIdentifier,
	}
}

// handleListVMs serves GET {prefix}/vm (optional ?projectId=, ?offset=&limit=): the listed VMs as a lagging
// list shows them (Faults.ListGap, Faults.ListLag; see listview.go).
func (s *Simulator) handleListVMs(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("projectId")
	s.mu.Lock()
	out := s.listedVMsLocked(time.Now(), project)
	s.mu.Unlock()
	lo, hi := s.page(r, len(out))
	writeList(w, out[lo:hi], len(out))
}

// sortedVMsLocked returns the VMs in creation order.
func (s *Simulator) sortedVMsLocked() []*VM {
	out := make([]*VM, 0, len(s.vmOrder))
	for _, id := range s.vmOrder {
		out = append(out, s.vms[id])
	}
	return out
}

// handleGetVM serves GET {prefix}/vm/{identifier}. A VM the API does not show (unknown, pending, in the
// ListGap, deleted) is answered 200 {"error":false,"data":false}.
func (s *Simulator) handleGetVM(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := s.vms[r.PathValue("identifier")]
	if v == nil || !v.shown(time.Now()) {
		s.mu.Unlock()
		writeBool(w, false)
		return
	}
	img, _ := s.catalog.imageByID(v.OSIdentifier)
	var tags []map[string]any
	for _, t := range v.Tags {
		if tg := s.tagLocked(t); tg != nil {
			tags = append(tags, tg.json())
		}
	}
	var private []map[string]any
	if _, _, privateIP := v.shownAddresses(); privateIP != "" {
		p := map[string]any{"id": v.PrivateIPID, "ip": privateIP, "vpc_id": nil, "vpc_name": nil}
		if vpc := s.vpcs[v.VPCID]; vpc != nil {
			p["vpc_id"], p["vpc_name"] = vpc.ID, vpc.Name
			p["network_range"], p["network_size"] = vpc.NetworkRange, vpc.NetworkSize
		}
		private = append(private, p)
	}
	data := map[string]any{
		"vmData": s.vmJSON(v), "vmTags": orEmpty(tags), "privateIpData": orEmpty(private),
		"floatingIpData": []any{},
		"imageCategories": []map[string]any{{"category": img.Category, "name": img.Name,
			"version": img.Version, "identifier": img.Identifier}},
	}
	s.mu.Unlock()
	writeObject(w, data)
}

func orEmpty(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

// handlePendingVMs serves GET /apps/v2/vm/pending: the VMs that have not booted yet (and are past
// Faults.PendingLag), with the create request as "data" (without vmPassword and userData, which carries
// bootstrap secrets).
func (s *Simulator) handlePendingVMs(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	var out []map[string]any
	for _, v := range s.sortedVMsLocked() {
		if v.State == VMPending && !now.Before(v.QueuedAt) {
			out = append(out, map[string]any{
				"id": v.PendingID, "user_id": simUserID, "data": redact(v.CreateRequest, "userData"), "running": 1, "type": "vm",
				"created_on": apiTime(v.CreatedAt),
			})
		}
	}
	s.mu.Unlock()
	writeList(w, out, len(out))
}

// simUserID is the user_id the simulated account has.
const simUserID = 1000
