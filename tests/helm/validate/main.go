// k8s-validate decodes every object of a rendered chart (the multi-document YAML of
// `helm template`) into the Kubernetes API's own Go types with apimachinery's strict serializer,
// the way the API server's strict field validation does: an unknown or misspelled field
// (livenesProbe), a field name in the wrong case, a duplicated field or a value of the wrong
// type (a string where an integer belongs) fails, and so does a kind the scheme does not know.
// It also checks object names and labels against the API's own syntax rules.
//
//	helm template ... | k8s-validate          (or: k8s-validate FILE...)
//
// Prints one line per problem, "<source> #<n> <kind>/<name>: <problem>", and exits 1 if any.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The API groups a Sluice chart renders. A kind outside them is an error rather than a pass.
func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, rbacv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

type validator struct {
	decoder  runtime.Decoder
	problems int
	objects  int
}

func (v *validator) report(where string, format string, args ...any) {
	v.problems++
	fmt.Printf("%s: %s\n", where, fmt.Sprintf(format, args...))
}

// checkMeta applies the API server's name and label rules to an object's metadata (a template's
// metadata has no name: kind "" checks its labels only).
func (v *validator) checkMeta(where string, meta metav1.Object, kind string) {
	var nameErrs []string
	switch kind {
	case "":
	case "Service":
		nameErrs = validation.IsDNS1035Label(meta.GetName())
	default:
		nameErrs = validation.IsDNS1123Subdomain(meta.GetName())
	}
	for _, e := range nameErrs {
		v.report(where, "metadata.name %q: %s", meta.GetName(), e)
	}
	for key, value := range meta.GetLabels() {
		for _, e := range validation.IsQualifiedName(key) {
			v.report(where, "label key %q: %s", key, e)
		}
		for _, e := range validation.IsValidLabelValue(value) {
			v.report(where, "label %s value %q: %s", key, value, e)
		}
	}
}

func (v *validator) document(source string, index int, doc []byte) {
	if len(bytes.TrimSpace(stripComments(doc))) == 0 {
		return
	}
	where := fmt.Sprintf("%s #%d", source, index)
	obj, gvk, err := v.decoder.Decode(doc, nil, nil)
	if gvk != nil {
		where = fmt.Sprintf("%s %s", where, gvk.Kind)
	}
	if err != nil {
		v.report(where, "%v", err)
		return
	}
	v.objects++
	meta, ok := obj.(metav1.Object)
	if !ok {
		v.report(where, "not an object with metadata")
		return
	}
	where = fmt.Sprintf("%s/%s", where, meta.GetName())
	v.checkMeta(where, meta, gvk.Kind)
	// The pod template and claim templates carry labels and names of their own.
	if sts, ok := obj.(*appsv1.StatefulSet); ok {
		v.checkMeta(where+" pod template", &sts.Spec.Template.ObjectMeta, "")
		for i := range sts.Spec.Template.Spec.Containers {
			for _, p := range sts.Spec.Template.Spec.Containers[i].Ports {
				for _, e := range validation.IsValidPortName(p.Name) {
					v.report(where, "container port name %q: %s", p.Name, e)
				}
			}
		}
	}
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func (v *validator) stream(source string, r io.Reader) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for index := 0; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		v.document(source, index, doc)
	}
}

func main() {
	scheme, err := newScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-validate:", err)
		os.Exit(2)
	}
	v := &validator{decoder: json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})}
	sources := os.Args[1:]
	if len(sources) == 0 {
		sources = []string{"-"}
	}
	for _, source := range sources {
		var r io.Reader = os.Stdin
		if source != "-" {
			f, err := os.Open(source)
			if err != nil {
				fmt.Fprintln(os.Stderr, "k8s-validate:", err)
				os.Exit(2)
			}
			defer f.Close()
			r = f
		}
		if err := v.stream(source, r); err != nil {
			fmt.Fprintln(os.Stderr, "k8s-validate:", err)
			os.Exit(2)
		}
	}
	if v.problems > 0 {
		fmt.Printf("k8s-validate: %d problem(s) in %d object(s)\n", v.problems, v.objects)
		os.Exit(1)
	}
	fmt.Printf("k8s-validate: %d object(s) valid\n", v.objects)
}
