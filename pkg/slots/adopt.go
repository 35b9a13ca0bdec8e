package slots

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationAdopted marks a legacy ConfigMap that has been imported; its value is the Lease name.
const AnnotationAdopted = "agentline.dev/adopted"

// AdoptOptions name the old tool's slot store (services.yaml `state`).
type AdoptOptions struct {
	// Namespace is state.configmapNamespace.
	Namespace string
	// Prefix is state.configmapPrefix; the ConfigMaps are <prefix><n>.
	Prefix string
	// Repo (owner/name) builds the holder keys owner/name#<issue or pr>.
	Repo string
}

// AdoptSkip is a legacy ConfigMap that was not imported, and why.
type AdoptSkip struct {
	// ConfigMap is namespace/name.
	ConfigMap string
	// Reason says why it was skipped.
	Reason string
}

// AdoptReport is what Adopt did.
type AdoptReport struct {
	// Imported are the slots now held through a Lease created from a ConfigMap.
	Imported []SlotStatus
	// Skipped lists the ConfigMaps left alone.
	Skipped []AdoptSkip
}

// Adopt imports the old tool's slot ConfigMaps (<prefix><n>, holding slot, env, namespace, issue,
// pr and createdAt) of this pool's env as Leases with a full TTL, and marks each imported
// ConfigMap with AnnotationAdopted so a second run imports nothing. ConfigMaps of other envs (the
// old tool kept ai and ai-repair in one store; no env means ai), of slots already leased, and
// without an issue or PR are skipped and reported.
func (p *Pool) Adopt(ctx context.Context, o AdoptOptions) (*AdoptReport, error) {
	if o.Namespace == "" || o.Prefix == "" {
		return nil, fmt.Errorf("adopt into %s: state.configmapNamespace and state.configmapPrefix are required (got %q, %q)", p, o.Namespace, o.Prefix)
	}
	if repoOf(o.Repo+"#1") == "" {
		return nil, fmt.Errorf("adopt into %s: repository owner/name is required to build holder keys (got %q)", p, o.Repo)
	}
	cms, err := p.kube.CoreV1().ConfigMaps(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list legacy slot ConfigMaps in namespace %s: %w", o.Namespace, err)
	}
	sort.Slice(cms.Items, func(i, j int) bool { return cms.Items[i].Name < cms.Items[j].Name })
	snap, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	rep := &AdoptReport{}
	for i := range cms.Items {
		cm := &cms.Items[i]
		suffix, ok := strings.CutPrefix(cm.Name, o.Prefix)
		n, err := strconv.Atoi(suffix)
		if !ok || err != nil || n < 1 {
			continue
		}
		ref := o.Namespace + "/" + cm.Name
		skip := func(format string, a ...any) {
			rep.Skipped = append(rep.Skipped, AdoptSkip{ConfigMap: ref, Reason: fmt.Sprintf(format, a...)})
		}
		d := cm.Data
		if v := strings.TrimSpace(d["slot"]); v != "" && v != strconv.Itoa(n) {
			skip("data.slot %q does not match the name's slot %d", v, n)
			continue
		}
		env := strings.TrimSpace(d["env"])
		if env == "" {
			env = "ai"
		}
		if env != p.cfg.Env {
			skip("env %q, not %q", env, p.cfg.Env)
			continue
		}
		if lease := cm.Annotations[AnnotationAdopted]; lease != "" {
			skip("already adopted as lease %s", lease)
			continue
		}
		issue, errI := optInt(d["issue"])
		pr, errP := optInt(d["pr"])
		if errI != nil || errP != nil {
			skip("bad issue %q or pr %q", d["issue"], d["pr"])
			continue
		}
		num := issue
		if num == 0 {
			num = pr
		}
		if num == 0 {
			skip("holds neither an issue nor a PR")
			continue
		}
		c := Claim{Key: fmt.Sprintf("%s#%d", o.Repo, num), Issue: issue, PR: pr}
		now := p.cfg.Now()
		name := LeaseName(p.cfg.Project, p.cfg.Env, n)
		if l := snap.slots[n]; l != nil {
			if holder(l) != c.Key {
				skip("slot %d is already leased to %q", n, holder(l))
				continue
			}
		} else {
			l := p.newLease(n, c, now)
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(d["createdAt"])); err == nil {
				l.Spec.AcquireTime = micro(t)
			}
			l.Annotations = map[string]string{AnnotationAdoptedFrom: ref}
			got, err := p.leases().Create(ctx, l, metav1.CreateOptions{FieldManager: fieldManager})
			if apierrors.IsAlreadyExists(err) {
				skip("slot %d was leased while adopting", n)
				continue
			}
			if err != nil {
				return rep, fmt.Errorf("adopt %s as lease %s/%s: %w", ref, p.cfg.SystemNamespace, name, err)
			}
			rep.Imported = append(rep.Imported, p.statusOf(n, got, now))
		}
		upd := cm.DeepCopy()
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[AnnotationAdopted] = name
		if _, err := p.kube.CoreV1().ConfigMaps(o.Namespace).Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return rep, fmt.Errorf("mark %s as adopted: %w", ref, err)
		}
	}
	return rep, nil
}

func optInt(s string) (int, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return n, nil
}
