package kubernetes

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/kubernetes/agent"
)

// mainPort names Spec.Port among a Service's and a container's ports.
const mainPort = "main"

// appContainer and agentContainer name an instance pod's two containers: the instance's
// program, and the agent that crashes it for Kill (package agent).
const (
	appContainer   = "app"
	agentContainer = "faultline-agent"
)

// appStatus is the status of the pod's app container; nil until the kubelet reports one.
func appStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	if pod == nil {
		return nil
	}
	for i, c := range pod.Status.ContainerStatuses {
		if c.Name == appContainer {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// agentPort is the agent's port in s's pod: agent.Port, or the next one s does not use.
func agentPort(s runtime.Spec) int {
	used := map[int]bool{s.Port: true}
	for _, p := range s.Ports {
		used[p.Port] = true
	}
	port := agent.Port
	for used[port] {
		port++
	}
	return port
}

// agentSidecar is the container of the agent, listening on the pod's loopback at port.
// It runs as root, whose CAP_KILL reaches the program whatever its user.
func agentSidecar(image string, pull corev1.PullPolicy, port int) corev1.Container {
	root := int64(0)
	return corev1.Container{
		Name:            agentContainer,
		Image:           image,
		ImagePullPolicy: pull,
		Args:            []string{"agent", "-listen", "127.0.0.1:" + strconv.Itoa(port)},
		SecurityContext: &corev1.SecurityContext{RunAsUser: &root, RunAsGroup: &root},
	}
}

// podName is the name of the one pod of an instance's StatefulSet.
func podName(instance string) string { return instance + "-0" }

// replacer replaces the placeholders of s for a pod whose Service has clusterIP.
func replacer(s runtime.Spec, clusterIP string) *strings.Replacer {
	port := strconv.Itoa(s.Port)
	pairs := []string{
		runtime.PlaceholderListen, "0.0.0.0:" + port,
		runtime.PlaceholderPort, port,
		runtime.PlaceholderNetAddr, clusterIP + ":" + port,
		runtime.PlaceholderDataDir, dataDir,
	}
	for _, p := range s.Ports {
		n := strconv.Itoa(p.Port)
		pairs = append(pairs, runtime.ListenPlaceholder(p.Name), "0.0.0.0:"+n, runtime.PortPlaceholder(p.Name), n,
			runtime.NetAddrPlaceholder(p.Name), clusterIP+":"+n)
	}
	return strings.NewReplacer(pairs...)
}

// service is the instance's Service: one port per declared port, selecting its pod.
func (r *Runtime) service(name, svc string, ports []corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.namespace,
			Labels: r.objectLabels(map[string]string{LabelInstance: name, LabelService: labelValue(svc)})},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelInstance: name},
			Ports:    ports,
		},
	}
}

// servicePorts lists s's ports for its Service.
func servicePorts(s runtime.Spec) []corev1.ServicePort {
	ports := []corev1.ServicePort{{Name: mainPort, Port: int32(s.Port), TargetPort: intstr.FromInt32(int32(s.Port))}}
	for _, p := range s.Ports {
		ports = append(ports, corev1.ServicePort{Name: "p" + strconv.Itoa(p.Port), Port: int32(p.Port), TargetPort: intstr.FromInt32(int32(p.Port))})
	}
	return ports
}

// podSpec is what every pod of the run shares: no API token, no service links, and the
// images the node was given never pulled.
func podSpec(grace int64, cs ...corev1.Container) corev1.PodSpec {
	no := false
	return corev1.PodSpec{
		Containers:                    cs,
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
		TerminationGracePeriodSeconds: &grace,
		RestartPolicy:                 corev1.RestartPolicyAlways,
	}
}

// statefulSet is the instance's StatefulSet of one replica: its pod runs image with s's
// command, environment and ports, mounts a volume of its own at /data, and is Started
// (hence Ready) once the startup probe sees s's health. With an agent image (every
// instance but the Toxiproxy pod), the agent runs beside it in a pod whose process
// namespace is shared.
func (r *Runtime) statefulSet(s runtime.Spec, image string, pull corev1.PullPolicy, clusterIP string, agentImage string, agentPull corev1.PullPolicy) *appsv1.StatefulSet {
	rep := replacer(s, clusterIP)
	var env []corev1.EnvVar
	for k, v := range s.Env {
		env = append(env, corev1.EnvVar{Name: k, Value: rep.Replace(v)})
	}
	slices.SortFunc(env, func(a, b corev1.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		args[i] = rep.Replace(a)
	}
	ports := []corev1.ContainerPort{{Name: mainPort, ContainerPort: int32(s.Port)}}
	for _, p := range s.Ports {
		ports = append(ports, corev1.ContainerPort{ContainerPort: int32(p.Port)})
	}
	c := corev1.Container{
		Name:            appContainer,
		Image:           image,
		ImagePullPolicy: pull,
		Args:            args,
		Env:             env,
		Ports:           ports,
		WorkingDir:      dataDir,
		VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: dataDir}},
		StartupProbe:    startupProbe(s),
	}
	if len(s.Entrypoint) > 0 {
		c.Command = make([]string, len(s.Entrypoint))
		for i, a := range s.Entrypoint {
			c.Command[i] = rep.Replace(a)
		}
	}
	if s.User != "" {
		uid, gid, _ := strings.Cut(s.User, ":")
		u, _ := strconv.ParseInt(uid, 10, 64)
		sc := &corev1.SecurityContext{RunAsUser: &u}
		if gid != "" {
			g, _ := strconv.ParseInt(gid, 10, 64)
			sc.RunAsGroup = &g
		}
		c.SecurityContext = sc
	}
	one := int32(1)
	labels := r.objectLabels(map[string]string{LabelInstance: s.Name, LabelService: labelValue(s.Service)})
	pvc := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(dataSize)}},
		},
	}
	if r.opts.storageClass != "" {
		pvc.Spec.StorageClassName = &r.opts.storageClass
	}
	spec := podSpec(30, c)
	if agentImage != "" {
		yes := true
		spec.ShareProcessNamespace = &yes
		spec.Containers = append(spec.Containers, agentSidecar(agentImage, agentPull, agentPort(s)))
	}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: r.namespace, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &one,
			ServiceName: s.Name,
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{LabelInstance: s.Name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       spec,
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{pvc},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
}

// startupProbe checks s's health every second (its port when it has no health path), for
// as long as its start timeout: a pod is Ready, and State says running, once it passes.
func startupProbe(s runtime.Spec) *corev1.Probe {
	h := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(s.Port))}}
	if s.Health != "" {
		h = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: s.Health, Port: intstr.FromInt32(int32(s.Port))}}
	}
	return &corev1.Probe{
		ProbeHandler:     h,
		PeriodSeconds:    1,
		TimeoutSeconds:   1,
		FailureThreshold: int32(math.Ceil(startTimeout(s).Seconds())) + 5,
	}
}

// startTimeout is s's, or the default.
func startTimeout(s runtime.Spec) time.Duration {
	if s.StartTimeout > 0 {
		return s.StartTimeout
	}
	return defaultStartTimeout
}
