package render

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Scope tells whether a kind is namespaced.
type Scope interface {
	// Namespaced reports whether objects of gvk live in a namespace.
	Namespaced(gvk schema.GroupVersionKind) bool
}

// clusterScoped lists well-known cluster-scoped kinds by group and kind (any version).
var clusterScoped = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                                    true,
	{Group: "", Kind: "Node"}:                                                         true,
	{Group: "", Kind: "PersistentVolume"}:                                             true,
	{Group: "", Kind: "ComponentStatus"}:                                              true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                        true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                               true,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                          true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                true,
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                                   true,
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:                                 true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:                 true,
	{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}:                        true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                       true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}:       true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                                   true,
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:                                 true,
	{Group: "cert-manager.io", Kind: "ClusterIssuer"}:                                 true,
	{Group: "triggers.tekton.dev", Kind: "ClusterTriggerBinding"}:                     true,
	{Group: "triggers.tekton.dev", Kind: "ClusterInterceptor"}:                        true,
	{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"}:                        true,
}

// BuiltinScope answers from a built-in list of cluster-scoped kinds; every other kind is taken as
// namespaced. It is the offline fallback.
type BuiltinScope struct{}

// Namespaced implements Scope.
func (BuiltinScope) Namespaced(gvk schema.GroupVersionKind) bool {
	return !clusterScoped[gvk.GroupKind()]
}

// MapperScope asks a (discovery-backed) REST mapper and falls back to BuiltinScope for kinds the
// mapper does not know (e.g. a CRD applied in the same run).
type MapperScope struct {
	// Mapper is usually a restmapper.DeferredDiscoveryRESTMapper.
	Mapper meta.RESTMapper
}

// Namespaced implements Scope.
func (s MapperScope) Namespaced(gvk schema.GroupVersionKind) bool {
	if s.Mapper != nil {
		if m, err := s.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			return m.Scope.Name() == meta.RESTScopeNameNamespace
		}
	}
	return BuiltinScope{}.Namespaced(gvk)
}
