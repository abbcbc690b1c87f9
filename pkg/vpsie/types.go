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

package vpsie

import (
	"encoding/json"
	"strings"
)

// VM is VPSie's VmData. Fields are tolerant (see envelope.go). There is no status string: a
// VM's state is its power and is_* flags, see IsUp.
type VM struct {
	ID                   Int    `json:"id"`
	Identifier           String `json:"identifier"`
	Hostname             String `json:"hostname"`
	UserID               Int    `json:"user_id"`
	DatacenterIdentifier String `json:"dcIdentifier"`
	DatacenterID         Int    `json:"datacenter_id"`
	BoxSizeID            Int    `json:"boxsize_id"`
	BoxImageID           Int    `json:"boximage_id"`
	RAM                  Int    `json:"ram"` // MB
	CPU                  Int    `json:"cpu"`
	SSD                  Int    `json:"ssd"`     // GB
	Traffic              Int    `json:"traffic"` // GB
	DefaultIP            String `json:"default_ip"`
	DefaultIPv6          String `json:"default_ipv6"`
	PrivateIP            String `json:"private_ip"`
	PublicIP             String `json:"publicIp"`
	AddedIPAddresses     String `json:"added_ip_addresses"`
	Power                Int    `json:"power"` // 0 off, 1 on
	IsActive             Int    `json:"is_active"`
	IsDeleted            Int    `json:"is_deleted"`
	IsLocked             Int    `json:"is_locked"`
	IsSuspended          Int    `json:"is_suspended"`
	IsTerminated         Int    `json:"is_terminated"`
	State                String `json:"state"`
	CreatedOn            String `json:"created_on"`
	LastUpdated          String `json:"last_updated"`
	// ProjectID comes as "projectId" or "project_id" depending on the endpoint.
	ProjectID   ID     `json:"projectId"`
	Description String `json:"vmDescription"`
	Category    String `json:"category"`
	FullName    String `json:"fullname"`
	Notes       String `json:"notes"`
}

// UnmarshalJSON merges project_id into ProjectID.
func (v *VM) UnmarshalJSON(b []byte) error {
	type plain VM
	aux := struct {
		*plain
		ProjectIDSnake ID `json:"project_id"`
	}{plain: (*plain)(v)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if v.ProjectID == "" {
		v.ProjectID = aux.ProjectIDSnake
	}
	return nil
}

// HasAddress reports whether the VM has any IP address yet.
func (v *VM) HasAddress() bool {
	return v.PublicIPv4() != "" || v.DefaultIPv6 != "" || v.PrivateIP != ""
}

// PublicIPv4 is default_ip, or publicIp when default_ip is empty.
func (v *VM) PublicIPv4() string {
	if v.DefaultIP != "" {
		return string(v.DefaultIP)
	}
	return string(v.PublicIP)
}

// IsUp reports whether the VM is usable: active, powered on, not suspended, locked,
// terminated or deleted, and addressed.
func (v *VM) IsUp() bool {
	return v.IsActive == 1 && v.Power == 1 && v.IsSuspended == 0 && v.IsLocked == 0 &&
		v.IsTerminated == 0 && v.IsDeleted == 0 && v.HasAddress()
}

// IsGone reports whether VPSie has marked the VM deleted or terminated.
func (v *VM) IsGone() bool { return v.IsDeleted != 0 || v.IsTerminated != 0 }

// FindVMsByHostname returns the VMs whose hostname equals hostname, ignoring case. VPSie's create
// returns no id, so the hostname is how a created VM is found; more than one match means a
// duplicate that the caller must resolve.
func FindVMsByHostname(vms []VM, hostname string) []VM {
	var out []VM
	for _, v := range vms {
		if strings.EqualFold(string(v.Hostname), hostname) {
			out = append(out, v)
		}
	}
	return out
}

// VMDetails is the answer of GetVM: {vmData, vmTags, privateIpData, floatingIpData}.
type VMDetails struct {
	VM          VM           `json:"vmData"`
	Tags        []VMTag      `json:"vmTags"`
	PrivateIPs  []PrivateIP  `json:"privateIpData"`
	FloatingIPs []FloatingIP `json:"floatingIpData"`
}

// VMTag is one entry of vmTags. No source shows its shape [guess]: it is accepted as a bare
// string or as an object with a name (or tag) field.
type VMTag struct {
	ID         Int    `json:"id"`
	Identifier String `json:"identifier"`
	Name       String `json:"name"`
	Color      String `json:"color"`
}

// UnmarshalJSON accepts "name" or {"name"|"tag": ...}.
func (t *VMTag) UnmarshalJSON(b []byte) error {
	if s := strings.TrimSpace(string(b)); !strings.HasPrefix(s, "{") {
		t.Name = String(scalarText(b))
		return nil
	}
	type plain VMTag
	aux := struct {
		*plain
		Tag String `json:"tag"`
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	if t.Name == "" {
		t.Name = aux.Tag
	}
	return nil
}

// PrivateIP is one entry of privateIpData. Its shape is not shown by any source [guess]; the
// common spellings are read tolerantly and Raw keeps the whole object. ID is what
// DetachVPC needs as privateIpId.
type PrivateIP struct {
	ID    ID              `json:"id"`
	IP    String          `json:"ip"`
	VPCID ID              `json:"vpc_id"`
	Raw   json.RawMessage `json:"-"`
}

// UnmarshalJSON also reads private_ip / ip_address / vpcId / privateIpId.
func (p *PrivateIP) UnmarshalJSON(b []byte) error {
	type plain PrivateIP
	aux := struct {
		*plain
		PrivateIP   String `json:"private_ip"`
		IPAddress   String `json:"ip_address"`
		VPCIDCamel  ID     `json:"vpcId"`
		PrivateIPID ID     `json:"privateIpId"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	p.IP = firstString(p.IP, aux.PrivateIP, aux.IPAddress)
	if p.VPCID == "" {
		p.VPCID = aux.VPCIDCamel
	}
	if p.ID == "" {
		p.ID = aux.PrivateIPID
	}
	p.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// FloatingIP is one entry of floatingIpData [guess], read like PrivateIP.
type FloatingIP struct {
	ID  ID              `json:"id"`
	IP  String          `json:"ip"`
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON also reads ip_address / floating_ip.
func (f *FloatingIP) UnmarshalJSON(b []byte) error {
	type plain FloatingIP
	aux := struct {
		*plain
		IPAddress  String `json:"ip_address"`
		FloatingIP String `json:"floating_ip"`
	}{plain: (*plain)(f)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	f.IP = firstString(f.IP, aux.IPAddress, aux.FloatingIP)
	f.Raw = append(json.RawMessage(nil), b...)
	return nil
}

func firstString(vals ...String) String {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// VMStatus is the runtime status of a VM (GET /vm/status/{identifier}). The status strings
// are not documented ("running"/"stopped" is a guess).
type VMStatus struct {
	Status String `json:"status"`
	Uptime Int    `json:"uptime"`
	CPU    Float  `json:"cpu"`
	Disk   Int    `json:"disk"`
}

// PendingVM is an entry of the pending-creation queue (GET /apps/v2/vm/pending): a VM that was
// requested but does not yet appear in the VM list.
type PendingVM struct {
	ID      ID     `json:"id"`
	UserID  Int    `json:"user_id"`
	Running Int    `json:"running"`
	Type    String `json:"type"`
	Data    struct {
		ResourceIdentifier String   `json:"resourceIdentifier"`
		OSIdentifier       String   `json:"osIdentifier"`
		DcIdentifier       String   `json:"dcIdentifier"`
		Hostname           String   `json:"hostname"`
		Tags               []String `json:"tags"`
		ProjectID          ID       `json:"projectId"`
	} `json:"data"`
}

// FindPendingVMsByHostname returns the pending entries for hostname, ignoring case.
func FindPendingVMsByHostname(pending []PendingVM, hostname string) []PendingVM {
	var out []PendingVM
	for _, p := range pending {
		if strings.EqualFold(string(p.Data.Hostname), hostname) {
			out = append(out, p)
		}
	}
	return out
}

// CreateVMRequest is VPSie's CreateServerRequest. The answer to a create carries no VM and no
// id: find the VM afterwards by Hostname (which must therefore be unique and deterministic).
type CreateVMRequest struct {
	ResourceIdentifier string   `json:"resourceIdentifier"` // plan
	OSIdentifier       string   `json:"osIdentifier"`       // image
	DcIdentifier       string   `json:"dcIdentifier"`
	Hostname           string   `json:"hostname"`
	ProjectID          string   `json:"projectId,omitempty"`
	VMPassword         string   `json:"vmPassword,omitempty"`
	ProcessID          string   `json:"processId,omitempty"`
	Notes              string   `json:"notes,omitempty"`
	ScriptIdentifier   string   `json:"scriptIdentifier,omitempty"`
	SSHKeyIdentifier   string   `json:"sshKeyIdentifier,omitempty"` // one key only
	Tags               []string `json:"tags,omitempty"`
	SSD                int      `json:"ssd,omitempty"`
	// Flags are sent as the strings "0"/"1" (numbers are silently ignored by the API).
	AddPublicIPv4        Flag `json:"addPublicIpV4"`
	AddPublicIPv6        Flag `json:"addPublicIpV6"`
	AddPrivateIP         Flag `json:"addPrivateIp"`
	BackupEnabled        Flag `json:"backupEnabled"`
	WeeklyBackupEnabled  Flag `json:"weeklyBackupEnabled"`
	MonthlyBackupEnabled Flag `json:"monthlyBackupEnabled"`
	// UserData is the raw cloud-init document; the client base64-encodes it into "userData".
	UserData []byte `json:"-"`
}

// DeleteStatistic is the {reason, note} VPSie requires on deletions.
type DeleteStatistic struct {
	Reason string `json:"reason"`
	Note   string `json:"note"`
}

// DefaultDeleteReason is sent when a caller gives no reason (VPSie requires one).
const DefaultDeleteReason = "Deleted by cluster-api-provider-vpsie"
