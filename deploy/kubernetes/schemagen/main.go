// Command schemagen writes the JSON schemas that kubeconform checks
// deploy/kubernetes/*.yaml against, for the kinds those files use, from
// the Kubernetes API's Go types (k8s.io/api): the schemas are made here,
// offline, and committed, so CI needs no download. Run it after changing
// the Kubernetes version below or using a new kind:
//
//	cd deploy/kubernetes/schemagen && go run . ../schemas
//
// The schemas are strict: an unknown field anywhere is an error, as with
// kubeconform -strict, so a misspelled probe or securityContext field is
// caught. Fields without omitempty in the Go types are required.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/invopop/jsonschema"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// kinds are the resources deploy/kubernetes uses, named as kubeconform's
// {{ .ResourceKind }}{{ .KindSuffix }} names their schema files.
var kinds = map[string]any{
	"secret-v1":          corev1.Secret{},
	"service-v1":         corev1.Service{},
	"deployment-apps-v1": appsv1.Deployment{},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: schemagen DIR")
		os.Exit(2)
	}
	for name, v := range kinds {
		r := &jsonschema.Reflector{
			ExpandedStruct: true,
			DoNotReference: true,
			Mapper:         mapper,
		}
		s := r.Reflect(v)
		s.Version = "http://json-schema.org/draft-07/schema#"
		b, err := json.MarshalIndent(s, "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(os.Args[1], name+".json"), append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// mapper gives the types that marshal themselves to JSON the shape they
// take on the wire.
func mapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[resource.Quantity]():
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string"}, {Type: "number"}}}
	case reflect.TypeFor[intstr.IntOrString]():
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string"}, {Type: "integer"}}}
	case reflect.TypeFor[metav1.Time](), reflect.TypeFor[metav1.MicroTime]():
		return &jsonschema.Schema{Type: "string", Format: "date-time"}
	case reflect.TypeFor[runtime.RawExtension]():
		return &jsonschema.Schema{Type: "object"}
	case reflect.TypeFor[[]byte]():
		return &jsonschema.Schema{Type: "string", ContentEncoding: "base64"}
	}
	return nil
}
