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
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Catalog is what the simulated account can order: datacenters, plans, OS images and load-balancer plans.
// Its JSON form is the --catalog file format. Identifiers must be unique within their kind; numeric ids are
// assigned when zero. Boolean fields are phrased so that their zero value is the common case.
type Catalog struct {
	Datacenters    []Datacenter   `json:"datacenters"`
	PlanCategories []PlanCategory `json:"planCategories"`
	Plans          []Plan         `json:"plans"`
	Images         []Image        `json:"images"`
	LBPlans        []LBPlan       `json:"lbPlans"`
}

// Datacenter is a VPSie location.
type Datacenter struct {
	ID              int    `json:"id"`
	Identifier      string `json:"identifier"`
	Name            string `json:"name"`
	Country         string `json:"country"`
	State           string `json:"state"`
	Disabled        bool   `json:"disabled,omitempty"`        // is_active 0: orders are refused
	Private         bool   `json:"private,omitempty"`         // is_private
	DefaultSelected bool   `json:"defaultSelected,omitempty"` // default_selected
	NoFloatingIPs   bool   `json:"noFloatingIps,omitempty"`   // is_fip_available 0
	NoLoadBalancers bool   `json:"noLoadBalancers,omitempty"` // not listed by GET /api/v1/lb/datacenter
}

// PlanCategory groups plans (GET /api/v2/plans/category).
type PlanCategory struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
}

// Plan is a server size (resourceIdentifier). RAM in MB, SSD and Traffic in GB.
type Plan struct {
	ID          int      `json:"id"`
	Identifier  string   `json:"identifier"`
	Nickname    string   `json:"nickname"`
	CPU         int      `json:"cpu"`
	RAM         int      `json:"ram"`
	SSD         int      `json:"ssd"`
	Traffic     int      `json:"traffic"`
	Price       float64  `json:"price"`
	NetSpeed    int      `json:"netSpeed"`
	Category    string   `json:"category"`              // a PlanCategory identifier
	Datacenters []string `json:"datacenters,omitempty"` // identifiers; empty: every datacenter
}

// Image is an OS image (osIdentifier). Stock images (Custom false) exist in every datacenter and have no list
// endpoint (as on the real API); custom images belong to one datacenter and are listed by
// GET /apps/v2/custom/images.
type Image struct {
	ID         int    `json:"id"`
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
	Category   string `json:"category"` // e.g. "ubuntu"
	Version    string `json:"version"`
	Arch       string `json:"arch"` // e.g. "amd64"
	Custom     bool   `json:"custom,omitempty"`
	Datacenter string `json:"datacenter,omitempty"` // custom images only
}

// LBPlan is a load-balancer size (the LB create's resourceIdentifier).
type LBPlan struct {
	ID          int      `json:"id"`
	Identifier  string   `json:"identifier"`
	Nickname    string   `json:"nickname"`
	Price       float64  `json:"price"`
	Connections int      `json:"connections"`
	Datacenters []string `json:"datacenters,omitempty"` // empty: every LB-capable datacenter
}

// Identifiers of the built-in catalogue (see DefaultCatalog and README.md).
const (
	DefaultDatacenter  = "dc000000-0000-4000-8000-000000000001" // "New York 1"
	DefaultPlan        = "9a000000-0000-4000-8000-000000000002" // "std-2vcpu-4gb"
	DefaultImage       = "1a000000-0000-4000-8000-000000000001" // "Ubuntu 24.04 x64"
	DefaultCustomImage = "1c000000-0000-4000-8000-000000000001" // "capi-ubuntu-2404-kube-v1.36.3" in New York 1
	DefaultLBPlan      = "1b000000-0000-4000-8000-000000000001" // "lb-small"
)

func dcID(n int) string   { return fmt.Sprintf("dc000000-0000-4000-8000-%012d", n) }
func planID(n int) string { return fmt.Sprintf("9a000000-0000-4000-8000-%012d", n) }
func catID(n int) string  { return fmt.Sprintf("ca000000-0000-4000-8000-%012d", n) }

// DefaultCatalog returns the built-in catalogue. All of it is invented (VPSie publishes no catalogue).
func DefaultCatalog() Catalog {
	return Catalog{
		Datacenters: []Datacenter{
			{Identifier: dcID(1), Name: "New York 1", Country: "US", State: "NY", DefaultSelected: true},
			{Identifier: dcID(2), Name: "Toronto 1", Country: "CA", State: "ON"},
			{Identifier: dcID(3), Name: "Amsterdam 1", Country: "NL", State: "NH"},
			{Identifier: dcID(4), Name: "Frankfurt 1", Country: "DE", State: "HE"},
			{Identifier: dcID(5), Name: "Singapore 1", Country: "SG", State: "SG", NoLoadBalancers: true, NoFloatingIPs: true},
			{Identifier: dcID(6), Name: "Legacy 1", Country: "US", State: "TX", Disabled: true, NoLoadBalancers: true},
		},
		PlanCategories: []PlanCategory{
			{Identifier: catID(1), Name: "Standard"},
			{Identifier: catID(2), Name: "CPU Optimized"},
			{Identifier: catID(3), Name: "Memory Optimized"},
		},
		Plans: []Plan{
			{Identifier: planID(1), Nickname: "std-1vcpu-1gb", CPU: 1, RAM: 1024, SSD: 25, Traffic: 1000, Price: 5, NetSpeed: 1000, Category: catID(1)},
			{Identifier: planID(2), Nickname: "std-2vcpu-4gb", CPU: 2, RAM: 4096, SSD: 80, Traffic: 4000, Price: 20, NetSpeed: 1000, Category: catID(1)},
			{Identifier: planID(3), Nickname: "std-4vcpu-8gb", CPU: 4, RAM: 8192, SSD: 160, Traffic: 5000, Price: 40, NetSpeed: 1000, Category: catID(1)},
			{Identifier: planID(4), Nickname: "std-8vcpu-16gb", CPU: 8, RAM: 16384, SSD: 320, Traffic: 6000, Price: 80, NetSpeed: 1000, Category: catID(1)},
			{Identifier: planID(5), Nickname: "cpu-4vcpu-8gb", CPU: 4, RAM: 8192, SSD: 100, Traffic: 5000, Price: 60, NetSpeed: 2000, Category: catID(2)},
			{Identifier: planID(6), Nickname: "mem-2vcpu-16gb", CPU: 2, RAM: 16384, SSD: 100, Traffic: 4000, Price: 70, NetSpeed: 1000, Category: catID(3),
				Datacenters: []string{dcID(1), dcID(4)}},
		},
		Images: []Image{
			{Identifier: DefaultImage, Name: "Ubuntu 24.04 x64", Category: "ubuntu", Version: "24.04", Arch: "amd64"},
			{Identifier: "1a000000-0000-4000-8000-000000000002", Name: "Ubuntu 22.04 x64", Category: "ubuntu", Version: "22.04", Arch: "amd64"},
			{Identifier: "1a000000-0000-4000-8000-000000000003", Name: "Debian 12 x64", Category: "debian", Version: "12", Arch: "amd64"},
			{Identifier: "1a000000-0000-4000-8000-000000000004", Name: "Rocky Linux 9 x64", Category: "rocky", Version: "9", Arch: "amd64"},
			{Identifier: DefaultCustomImage, Name: "capi-ubuntu-2404-kube-v1.36.3", Category: "ubuntu", Version: "24.04", Arch: "amd64",
				Custom: true, Datacenter: dcID(1)},
			{Identifier: "1c000000-0000-4000-8000-000000000002", Name: "capi-ubuntu-2404-kube-v1.36.3", Category: "ubuntu", Version: "24.04", Arch: "amd64",
				Custom: true, Datacenter: dcID(4)},
		},
		LBPlans: []LBPlan{
			{Identifier: DefaultLBPlan, Nickname: "lb-small", Price: 10, Connections: 10000},
			{Identifier: "1b000000-0000-4000-8000-000000000002", Nickname: "lb-medium", Price: 20, Connections: 50000},
		},
	}
}

// LoadCatalog reads a catalogue JSON file (the format of Catalog; `vpsie-sim --print-catalog` prints the
// built-in one).
func LoadCatalog(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return &c, nil
}

// Validate checks identifiers and cross references.
func (c *Catalog) Validate() error {
	seen := map[string]bool{}
	check := func(kind, id string) error {
		if id == "" {
			return fmt.Errorf("a %s has no identifier", kind)
		}
		if seen[kind+id] {
			return fmt.Errorf("duplicate %s identifier %q", kind, id)
		}
		seen[kind+id] = true
		return nil
	}
	for _, d := range c.Datacenters {
		if err := check("datacenter", d.Identifier); err != nil {
			return err
		}
	}
	for _, p := range c.PlanCategories {
		if err := check("plan category", p.Identifier); err != nil {
			return err
		}
	}
	refs := func(kind string, ids []string) error {
		for _, id := range ids {
			if !seen["datacenter"+id] {
				return fmt.Errorf("%s refers to unknown datacenter %q", kind, id)
			}
		}
		return nil
	}
	for _, p := range c.Plans {
		if err := check("plan", p.Identifier); err != nil {
			return err
		}
		if err := refs("plan "+p.Identifier, p.Datacenters); err != nil {
			return err
		}
	}
	for _, im := range c.Images {
		if err := check("image", im.Identifier); err != nil {
			return err
		}
		if im.Custom {
			if err := refs("custom image "+im.Identifier, []string{im.Datacenter}); err != nil {
				return err
			}
		}
	}
	for _, p := range c.LBPlans {
		if err := check("lb plan", p.Identifier); err != nil {
			return err
		}
		if err := refs("lb plan "+p.Identifier, p.Datacenters); err != nil {
			return err
		}
	}
	return nil
}

func (c *Catalog) assignIDs() {
	for i := range c.Datacenters {
		if c.Datacenters[i].ID == 0 {
			c.Datacenters[i].ID = i + 1
		}
	}
	for i := range c.Plans {
		if c.Plans[i].ID == 0 {
			c.Plans[i].ID = 100 + i + 1
		}
	}
	for i := range c.Images {
		if c.Images[i].ID == 0 {
			c.Images[i].ID = 200 + i + 1
		}
	}
	for i := range c.LBPlans {
		if c.LBPlans[i].ID == 0 {
			c.LBPlans[i].ID = 300 + i + 1
		}
	}
}

func (c Catalog) clone() Catalog {
	b, _ := json.Marshal(c)
	out := Catalog{Datacenters: []Datacenter{}, PlanCategories: []PlanCategory{}, Plans: []Plan{}, Images: []Image{}, LBPlans: []LBPlan{}}
	_ = json.Unmarshal(b, &out)
	out.Datacenters, out.PlanCategories, out.Plans = nonNil(out.Datacenters), nonNil(out.PlanCategories), nonNil(out.Plans)
	out.Images, out.LBPlans = nonNil(out.Images), nonNil(out.LBPlans)
	return out
}

// Datacenter finds a datacenter by identifier or (case-insensitive) name.
func (c Catalog) Datacenter(identifierOrName string) (Datacenter, bool) {
	for _, d := range c.Datacenters {
		if d.Identifier == identifierOrName || strings.EqualFold(d.Name, identifierOrName) {
			return d, true
		}
	}
	return Datacenter{}, false
}

// Plan finds a plan by identifier or nickname.
func (c Catalog) Plan(identifierOrNickname string) (Plan, bool) {
	for _, p := range c.Plans {
		if p.Identifier == identifierOrNickname || strings.EqualFold(p.Nickname, identifierOrNickname) {
			return p, true
		}
	}
	return Plan{}, false
}

// Image finds an image by identifier or name (the first match for a name).
func (c Catalog) Image(identifierOrName string) (Image, bool) {
	for _, im := range c.Images {
		if im.Identifier == identifierOrName || strings.EqualFold(im.Name, identifierOrName) {
			return im, true
		}
	}
	return Image{}, false
}

// LBPlan finds a load-balancer plan by identifier or nickname.
func (c Catalog) LBPlan(identifierOrNickname string) (LBPlan, bool) {
	for _, p := range c.LBPlans {
		if p.Identifier == identifierOrNickname || strings.EqualFold(p.Nickname, identifierOrNickname) {
			return p, true
		}
	}
	return LBPlan{}, false
}

func (p Plan) availableIn(dc string) bool {
	return len(p.Datacenters) == 0 || contains(p.Datacenters, dc)
}

func (p LBPlan) availableIn(dc Datacenter) bool {
	return !dc.NoLoadBalancers && (len(p.Datacenters) == 0 || contains(p.Datacenters, dc.Identifier))
}

// Catalog returns a copy of the simulator's catalogue (which never changes after New).
func (s *Simulator) Catalog() Catalog { return s.catalog.clone() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func dcJSON(d Datacenter) map[string]any {
	return map[string]any{
		"id": d.ID, "identifier": d.Identifier, "dc_name": d.Name, "state": d.State, "country": d.Country,
		"is_active": b2i(!d.Disabled), "default_selected": b2i(d.DefaultSelected), "is_deleted": 0,
		"is_private": b2i(d.Private), "is_fip_available": b2i(!d.NoFloatingIPs),
	}
}

// handleDatacenters serves GET /apps/v2/datacenter?offset=&limit=.
func (s *Simulator) handleDatacenters(w http.ResponseWriter, r *http.Request) {
	cat := &s.catalog
	lo, hi := s.page(r, len(cat.Datacenters))
	var out []map[string]any
	for _, d := range cat.Datacenters[lo:hi] {
		out = append(out, dcJSON(d))
	}
	writeList(w, out, len(cat.Datacenters))
}

// handlePlans serves POST /apps/v2/resources. The body must be form-urlencoded; dcIdentifier is required,
// planCatIdentifier optionally narrows the list, osIdentifier (when given) must be a known image.
func (s *Simulator) handlePlans(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, msgBadBody)
		return
	}
	cat := &s.catalog
	dc := r.PostForm.Get("dcIdentifier")
	if dc == "" {
		writeError(w, http.StatusBadRequest, "dcIdentifier is required")
		return
	}
	if _, ok := cat.datacenterByID(dc); !ok {
		writeError(w, http.StatusBadRequest, "Invalid datacenter")
		return
	}
	if osID := r.PostForm.Get("osIdentifier"); osID != "" {
		if im, ok := cat.imageByID(osID); !ok || (im.Custom && im.Datacenter != dc) {
			writeError(w, http.StatusBadRequest, "Invalid OS identifier")
			return
		}
	}
	category := r.PostForm.Get("planCatIdentifier")
	var out []map[string]any
	for _, p := range cat.Plans {
		if !p.availableIn(dc) || (category != "" && p.Category != category) {
			continue
		}
		out = append(out, map[string]any{
			"id": p.ID, "identifier": p.Identifier, "nickname": p.Nickname, "cpu": p.CPU, "ram": p.RAM,
			"ssd": p.SSD, "traffic": p.Traffic, "price": p.Price, "net_speed": p.NetSpeed, "planCatIdentifier": p.Category,
		})
	}
	writeList(w, out, len(out))
}

func (c *Catalog) imageByID(id string) (Image, bool) {
	for _, im := range c.Images {
		if im.Identifier == id {
			return im, true
		}
	}
	return Image{}, false
}

func (c *Catalog) datacenterByID(id string) (Datacenter, bool) {
	for _, d := range c.Datacenters {
		if d.Identifier == id {
			return d, true
		}
	}
	return Datacenter{}, false
}

func (c *Catalog) planByID(id string) (Plan, bool) {
	for _, p := range c.Plans {
		if p.Identifier == id {
			return p, true
		}
	}
	return Plan{}, false
}

func (c *Catalog) lbPlanByID(id string) (LBPlan, bool) {
	for _, p := range c.LBPlans {
		if p.Identifier == id {
			return p, true
		}
	}
	return LBPlan{}, false
}

// handlePlanCategories serves GET /api/v2/plans/category.
func (s *Simulator) handlePlanCategories(w http.ResponseWriter, r *http.Request) {
	cat := &s.catalog
	var out []map[string]any
	for _, c := range cat.PlanCategories {
		out = append(out, map[string]any{"identifier": c.Identifier, "name": c.Name})
	}
	writeList(w, out, len(out))
}

// handleCustomImages serves GET /apps/v2/custom/images.
func (s *Simulator) handleCustomImages(w http.ResponseWriter, r *http.Request) {
	cat := &s.catalog
	var out []map[string]any
	for _, im := range cat.Images {
		if !im.Custom {
			continue
		}
		out = append(out, map[string]any{
			"id": im.ID, "identifier": im.Identifier, "original_name": im.Name, "image_label": im.Name,
			"dcIdentifier": im.Datacenter, "category": im.Category, "version": im.Version, "arch": im.Arch,
		})
	}
	writeList(w, out, len(out))
}

// handleLBOffers serves POST /api/v1/lb/offers {dcIdentifier}.
func (s *Simulator) handleLBOffers(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DCIdentifier string `json:"dcIdentifier"`
	}
	if _, ok := decodeBody(w, r, &in); !ok {
		return
	}
	cat := &s.catalog
	dc, ok := cat.datacenterByID(in.DCIdentifier)
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid datacenter")
		return
	}
	var out []map[string]any
	for _, p := range cat.LBPlans {
		if p.availableIn(dc) {
			out = append(out, map[string]any{"id": p.ID, "identifier": p.Identifier, "nickname": p.Nickname,
				"price": p.Price, "connections": p.Connections})
		}
	}
	writeList(w, out, len(out))
}

// handleLBDatacenters serves GET /api/v1/lb/datacenter: the datacenters that can host load balancers.
func (s *Simulator) handleLBDatacenters(w http.ResponseWriter, r *http.Request) {
	cat := &s.catalog
	var out []map[string]any
	for _, d := range cat.Datacenters {
		if !d.NoLoadBalancers && !d.Disabled {
			out = append(out, dcJSON(d))
		}
	}
	writeList(w, out, len(out))
}
