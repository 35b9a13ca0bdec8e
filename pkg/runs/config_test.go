package runs

import (
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c := DefaultConfig()
	if c.Namespace != "agentline-system" || c.ServiceAccountName != "" {
		t.Fatalf("defaults %+v", c)
	}
	ws := c.WorkspacesFor("ai-dev")
	if len(ws) != 1 || ws[0].Name != "source" || ws[0].VolumeClaimTemplate == nil {
		t.Fatalf("default workspaces %+v", ws)
	}
	q := ws[0].VolumeClaimTemplate.Spec.Resources.Requests.Storage()
	if q.String() != "1Gi" {
		t.Fatalf("default size %s", q)
	}
}

func TestConfigFromMap(t *testing.T) {
	c, err := ConfigFromMap(map[string]string{
		KeyRunNamespace: "team-a", KeyRunServiceAccount: "runner",
		KeyWorkspaceName: "ws", KeyWorkspaceSize: "5Gi", KeyWorkspaceStorageClass: "fast",
		"max-slots": "4",
	})
	if err != nil {
		t.Fatal(err)
	}
	ws := c.WorkspacesFor("ai-dev")
	if c.Namespace != "team-a" || c.ServiceAccountName != "runner" || ws[0].Name != "ws" ||
		ws[0].VolumeClaimTemplate.Spec.Resources.Requests.Storage().String() != "5Gi" ||
		*ws[0].VolumeClaimTemplate.Spec.StorageClassName != "fast" {
		t.Fatalf("config %+v", c)
	}

	c, err = ConfigFromMap(map[string]string{KeyWorkspacePVC: "shared-claim"})
	if err != nil {
		t.Fatal(err)
	}
	ws = c.WorkspacesFor("ai-dev")
	if ws[0].PersistentVolumeClaim == nil || ws[0].PersistentVolumeClaim.ClaimName != "shared-claim" || ws[0].VolumeClaimTemplate != nil {
		t.Fatalf("pvc binding %+v", ws[0])
	}

	c, err = ConfigFromMap(map[string]string{
		KeyWorkspaces: `
- name: source
  volumeClaimTemplate:
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 2Gi}}
- name: github
  secret: {secretName: agentline-github}
`,
		KeyWorkspacesPrefix + "cleanup": "- name: github\n  secret: {secretName: gh}\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if ws := c.WorkspacesFor("ai-dev"); len(ws) != 2 || ws[1].Secret.SecretName != "agentline-github" {
		t.Fatalf("ai-dev workspaces %+v", ws)
	}
	if ws := c.WorkspacesFor("cleanup"); len(ws) != 1 || ws[0].Secret.SecretName != "gh" {
		t.Fatalf("cleanup workspaces %+v", ws)
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	for _, tc := range []struct {
		data map[string]string
		key  string
	}{
		{map[string]string{KeyRunNamespace: "Bad_NS"}, KeyRunNamespace},
		{map[string]string{KeyRunServiceAccount: "a b"}, KeyRunServiceAccount},
		{map[string]string{KeyWorkspaceSize: "lots"}, KeyWorkspaceSize},
		{map[string]string{KeyWorkspaceSize: "0"}, KeyWorkspaceSize},
		{map[string]string{KeyWorkspaceName: "a/b"}, KeyWorkspaceName},
		{map[string]string{KeyWorkspacePVC: "UPPER"}, KeyWorkspacePVC},
		{map[string]string{KeyWorkspaces: "name: not-a-list"}, KeyWorkspaces},
		{map[string]string{KeyWorkspaces: "- name: x\n  bogus: 1\n"}, KeyWorkspaces},
		{map[string]string{KeyWorkspaces: "- name: x\n"}, KeyWorkspaces},
		{map[string]string{KeyWorkspaces: "- emptyDir: {}\n"}, KeyWorkspaces},
		{map[string]string{KeyWorkspaces: "- {name: x, emptyDir: {}}\n- {name: x, emptyDir: {}}\n"}, KeyWorkspaces},
		{map[string]string{KeyWorkspacesPrefix + "ai-dev": "- name: x\n  emptyDir: {}\n  secret: {secretName: s}\n"}, "workspaces.ai-dev"},
		{map[string]string{KeyWorkspacesPrefix + "Bad!": "[]"}, "workspaces.Bad!"},
	} {
		_, err := ConfigFromMap(tc.data)
		if err == nil || !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Errorf("%v: err = %v, want one naming %q", tc.data, err, tc.key)
		}
	}
}
