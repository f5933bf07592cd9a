package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/pve-operator/pve-operator/internal/testenv"
)

const testNamespace = "validation"

// Minimal valid objects of each kind; every table entry breaks one thing.
var bases = map[string]string{
	"Application": `
apiVersion: proxmox.pve-operator.io/v1alpha1
kind: Application
spec:
  hostRef: {name: dev}
  template: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
  rootFS: {storage: local-lvm, size: 8Gi}
  resources: {cores: 2, memory: 1Gi, swap: 512Mi}
  mountPoints:
  - {name: mp0, storage: local-lvm, size: 4Gi, path: /srv/data}
  network:
  - {name: eth0, ipv4: dhcp}
`,
	"ProxmoxHost": `
apiVersion: proxmox.pve-operator.io/v1alpha1
kind: ProxmoxHost
spec:
  endpoint: https://pve1.example.com:8006
  credentialsRef: {name: pve, namespace: pve-operator-system}
`,
	"Backup": `
apiVersion: proxmox.pve-operator.io/v1alpha1
kind: Backup
spec:
  applicationRef: {name: web1}
  storage: local
`,
	"Restore": `
apiVersion: proxmox.pve-operator.io/v1alpha1
kind: Restore
spec:
  backupRef: {name: web1-manual}
`,
	"BackupSchedule": `
apiVersion: proxmox.pve-operator.io/v1alpha1
kind: BackupSchedule
spec:
  schedule: "0 3 * * *"
  applicationRef: {name: web1}
`,
}

var nameSeq atomic.Int64

// pinnedFingerprint is a well-formed SHA-256 certificate fingerprint.
const pinnedFingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

// newObject returns a fresh copy of the base object of kind with a unique name.
func newObject(kind string) *unstructured.Unstructured {
	js, err := yaml.YAMLToJSON([]byte(bases[kind]))
	Expect(err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{}
	Expect(u.UnmarshalJSON(js)).To(Succeed())
	u.SetName(fmt.Sprintf("obj-%d", nameSeq.Add(1)))
	if kind != "ProxmoxHost" {
		u.SetNamespace(testNamespace)
	}
	return u
}

// edit is one change to an object, addressed by a dotted path.
type edit func(u *unstructured.Unstructured)

// set sets a field; a string starting with { or [ is parsed as a YAML fragment.
func set(path string, v any) edit {
	return func(u *unstructured.Unstructured) {
		var js []byte
		var err error
		if s, ok := v.(string); ok && (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) {
			js, err = yaml.YAMLToJSON([]byte(s))
		} else {
			js, err = json.Marshal(v)
		}
		Expect(err).NotTo(HaveOccurred())
		// Decoding through Unstructured gives int64 numbers, as the client expects.
		holder := &unstructured.Unstructured{}
		Expect(holder.UnmarshalJSON(fmt.Appendf(nil, `{"apiVersion":"v1","kind":"X","v":%s}`, js))).To(Succeed())
		Expect(unstructured.SetNestedField(u.Object, holder.Object["v"], strings.Split(path, ".")...)).To(Succeed())
	}
}

func del(path string) edit {
	return func(u *unstructured.Unstructured) {
		unstructured.RemoveNestedField(u.Object, strings.Split(path, ".")...)
	}
}

func setName(name string) edit {
	return func(u *unstructured.Unstructured) { u.SetName(name) }
}

func expectRejected(err error, message string) {
	ExpectWithOffset(1, err).To(HaveOccurred(), "the apiserver accepted an invalid object")
	ExpectWithOffset(1, apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(BeTrue(), "unexpected error kind: %v", err)
	ExpectWithOffset(1, err.Error()).To(ContainSubstring(message))
}

var _ = Describe("Admission of invalid objects", func() {
	DescribeTable("rejects at create time",
		func(kind string, e edit, message string) {
			u := newObject(kind)
			e(u)
			expectRejected(k8s.Create(ctx, u), message)
		},
		// Application
		Entry("adopt without vmid", "Application", chain(del("spec.template"), del("spec.rootFS"), set("spec.adopt", true)), "adopt requires vmid"),
		Entry("neither template, restoreFrom nor adopt", "Application", chain(del("spec.template"), del("spec.rootFS")), "one of template, image, restoreFrom or cloneFrom is required"),
		Entry("template and restoreFrom together", "Application", set("spec.restoreFrom", "{backupRef: {name: b}}"), "template, image, restoreFrom and cloneFrom are mutually exclusive"),
		Entry("adopt with a template", "Application", chain(set("spec.adopt", true), set("spec.vmid", 200)), "adopt takes over an existing container"),
		Entry("an adopted container whose unused volumes would be destroyed", "Application", chain(del("spec.template"), del("spec.rootFS"), set("spec.adopt", true), set("spec.vmid", 200), set("spec.detachedVolumes", "Delete")), "detachedVolumes: Delete is only for containers the operator creates"),
		Entry("an unknown detachedVolumes policy", "Application", set("spec.detachedVolumes", "Archive"), `Unsupported value: "Archive"`),
		Entry("vmid below 100", "Application", set("spec.vmid", 99), "should be greater than or equal to 100"),
		Entry("vmid above 999999999", "Application", set("spec.vmid", 1000000000), "should be less than or equal to 999999999"),
		Entry("a hostname with an underscore", "Application", set("spec.hostname", "web_1"), "spec.hostname in body should match"),
		Entry("a metadata.name that is no hostname, without spec.hostname", "Application", setName("web.example.com"), "metadata.name is not a valid hostname"),
		Entry("a template that is not a vztmpl volume", "Application", set("spec.template", "local:iso/debian-12.iso"), "spec.template in body should match"),
		Entry("a template without rootFS", "Application", del("spec.rootFS"), "rootFS is required when creating from a template"),
		Entry("memory not in whole MiB", "Application", set("spec.resources.memory", "1000000"), "memory must be a whole number of MiB"),
		Entry("memory below 16Mi", "Application", set("spec.resources.memory", "8Mi"), "memory must be a whole number of MiB between 16Mi and 64Ti"),
		Entry("negative swap", "Application", set("spec.resources.swap", "-1Gi"), "swap must be a whole number of MiB"),
		Entry("a memory quantity that does not parse", "Application", set("spec.resources.memory", "lots"), "spec.resources.memory"),
		Entry("zero cores", "Application", set("spec.resources.cores", 0), "should be greater than or equal to 1"),
		Entry("rootFS size not in whole GiB", "Application", set("spec.rootFS.size", "1536Mi"), "size must be a whole number of GiB"),
		Entry("an unknown powerState", "Application", set("spec.powerState", "Paused"), `Unsupported value: "Paused"`),
		Entry("an unknown deletionPolicy", "Application", set("spec.deletionPolicy", "Orphan"), `Unsupported value: "Orphan"`),
		Entry("a network name that is Proxmox' key, not the interface", "Application", set("spec.network", "[{name: net0}]"), "spec.network[0].name in body should match"),
		Entry("an ipv4 address without prefix length", "Application", set("spec.network", "[{name: eth0, ipv4: 10.0.0.5}]"), "ipv4 must be dhcp, manual or an IPv4 address in CIDR form"),
		Entry("a gateway with dhcp", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, gateway: 10.0.0.1}]"), "gateway needs a static ipv4 address"),
		Entry("a vlan above 4094", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, vlan: 5000}]"), "should be less than or equal to 4094"),
		Entry("a mount point mp256", "Application", set("spec.mountPoints", "[{name: mp256, storage: local-lvm, size: 1Gi, path: /data}]"), "spec.mountPoints[0].name in body should match"),
		Entry("a relative mount path", "Application", set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 1Gi, path: data}]"), "spec.mountPoints[0].path in body should match"),
		Entry("a nameserver that is no IP", "Application", set("spec.dns", "{nameservers: [dns.example.com]}"), "each nameserver must be an IP address"),
		Entry("provision with both script and configMapRef", "Application", set("spec.provision", "{script: 'true', configMapRef: {name: c, key: k}}"), "exactly one of script or configMapRef is required"),
		Entry("a provision timeout above 30m", "Application", set("spec.provision", "{script: 'true', timeout: 31m}"), "timeout must be greater than 0 and at most 30m"),
		Entry("an ssh public key that is no key", "Application", set("spec.sshPublicKeys", "['hello world']"), "spec.sshPublicKeys[0] in body should match"),
		Entry("a tag with a space", "Application", set("spec.tags", "['my tag']"), "spec.tags[0] in body should match"),
		Entry("a tag forging the ownership marker", "Application", set("spec.tags", "[web, pve-operator-owner.0b1c2d3e-aaaa-bbbb-cccc-0123456789ab]"), "reserved for the operator's ownership markers"),
		Entry("the operator's managed tag in another case", "Application", set("spec.tags", "[PVE-Operator]"), "reserved for the operator's ownership markers"),
		// Application: the container keys of issue 16
		Entry("a negative cpuLimit", "Application", set("spec.resources.cpuLimit", "-1"), cpuLimitMessage),
		Entry("a cpuLimit above 8192 cores", "Application", set("spec.resources.cpuLimit", "9000"), cpuLimitMessage),
		Entry("cpuUnits above 500000", "Application", set("spec.resources.cpuUnits", 500001), "should be less than or equal to 500000"),
		Entry("a mount point that is both a volume and a bind mount", "Application", set("spec.mountPoints", "[{name: mp1, storage: local-lvm, size: 1Gi, hostPath: /tank, path: /x}]"), "a mount point is either a volume (storage and size) or a bind mount (hostPath)"),
		Entry("a volume mount point without a size", "Application", set("spec.mountPoints", "[{name: mp1, storage: local-lvm, path: /x}]"), "a volume mount point needs both storage and size"),
		Entry("quota on a bind mount", "Application", set("spec.mountPoints", "[{name: mp1, hostPath: /tank, path: /x, quota: true}]"), "quota applies to volumes, not bind mounts"),
		Entry("a relative hostPath", "Application", set("spec.mountPoints", "[{name: mp1, hostPath: tank, path: /x}]"), "spec.mountPoints[0].hostPath in body should match"),
		Entry("a bind mount's hostPath with a .. segment", "Application", set("spec.mountPoints", "[{name: mp1, hostPath: /tank/../etc, path: /x}]"), "hostPath must not contain . or .. segments"),
		Entry("a mount option PVE does not know", "Application", set("spec.rootFS.mountOptions", "[sync]"), `Unsupported value: "sync"`),
		Entry("a device dev256", "Application", set("spec.devices", "[{name: dev256, path: /dev/null}]"), "spec.devices[0].name in body should match"),
		Entry("a device outside /dev", "Application", set("spec.devices", "[{name: dev0, path: /etc/shadow}]"), "spec.devices[0].path in body should match"),
		Entry("a device path climbing out of /dev", "Application", set("spec.devices", "[{name: dev0, path: /dev/../etc/shadow}]"), "path must not contain . or .. segments"),
		Entry("a device mode that is not octal with a leading 0", "Application", set("spec.devices", "[{name: dev0, path: /dev/null, mode: '660'}]"), "spec.devices[0].mode in body should match"),
		Entry("a negative device uid", "Application", set("spec.devices", "[{name: dev0, path: /dev/null, uid: -1}]"), "should be greater than or equal to 0"),
		Entry("a multicast macAddress", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, macAddress: '01:00:5E:00:00:01'}]"), "spec.network[0].macAddress in body should match"),
		Entry("a rate of 0", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, rate: '0'}]"), "rate must be a positive number of MB/s"),
		Entry("a trunk VLAN above 4094", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, trunks: [10, 4095]}]"), "should be less than or equal to 4094"),
		Entry("a gateway with a manual ipv4", "Application", set("spec.network", "[{name: eth0, ipv4: manual, gateway: 10.0.0.1}]"), "gateway needs a static ipv4 address"),
		Entry("a features mount type with a dash", "Application", set("spec.features", "{mount: [nfs-4]}"), "spec.features.mount[0] in body should match"),
		Entry("an empty startup", "Application", set("spec.startup", "{}"), "set at least one of order, upDelaySeconds and downTimeoutSeconds"),
		Entry("a negative startup order", "Application", set("spec.startup", "{order: -1}"), "should be greater than or equal to 0"),
		Entry("a hookscript that is not a snippet", "Application", set("spec.hookscript", "local:iso/hook.sh"), "spec.hookscript in body should match"),
		Entry("a timezone with a space", "Application", set("spec.timezone", "America/New York"), "spec.timezone in body should match"),
		Entry("an osType PVE does not set up", "Application", set("spec.osType", "windows"), `Unsupported value: "windows"`),
		Entry("an unknown arch", "Application", set("spec.arch", "x86"), `Unsupported value: "x86"`),
		Entry("an unknown consoleMode", "Application", set("spec.consoleMode", "serial"), `Unsupported value: "serial"`),
		Entry("seven ttys", "Application", set("spec.ttys", 7), "should be less than or equal to 6"),
		Entry("a description over 8 KiB", "Application", set("spec.description", strings.Repeat("x", 8193)), "spec.description: Too long"),
		Entry("an adoption grant naming no containers", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, adopt: {allowDelete: true}}]"), "name the adoptable containers"),
		Entry("a VMID range that runs backwards", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, adopt: {vmidRanges: [{from: 400, to: 300}]}}]"), "from must not be greater than to"),
		Entry("a VMID range below 100", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, adopt: {vmidRanges: [{from: 1, to: 300}]}}]"), "should be greater than or equal to 100"),
		Entry("an adoption grant by the operator's own tag", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, adopt: {tags: [pve-operator]}}]"), "ownership markers, not grants"),
		Entry("a negative memory quota", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, quota: {memory: '-1Gi'}}]"), "memory must be a non-negative quantity"),
		Entry("a grant without a namespaceSelector", "ProxmoxHost", set("spec.grants", "[{privileged: true}]"), "namespaceSelector: Required value"),
		// ProxmoxHost
		Entry("a plain-http endpoint", "ProxmoxHost", set("spec.endpoint", "http://pve1.example.com:8006"), "endpoint must be an https URL"),
		Entry("an endpoint that is no URL", "ProxmoxHost", set("spec.endpoint", "pve1.example.com"), "endpoint must be an https URL"),
		Entry("credentials in the endpoint", "ProxmoxHost", set("spec.endpoint", "https://root:secret@pve1.example.com:8006"), "endpoint must not contain '@' (credentials in the URL)"),
		Entry("no credentialsRef", "ProxmoxHost", del("spec.credentialsRef"), "spec.credentialsRef: Required value"),
		Entry("caBundle together with insecureSkipVerify", "ProxmoxHost", set("spec.tls", "{insecureSkipVerify: true, caBundle: '-----BEGIN CERTIFICATE-----'}"), "mutually exclusive"),
		Entry("a caBundle that is not PEM", "ProxmoxHost", set("spec.tls", "{caBundle: 'not pem'}"), "caBundle must contain at least one PEM certificate"),
		Entry("a certificateFingerprint without colons", "ProxmoxHost", set("spec.tls.certificateFingerprint", strings.ReplaceAll(pinnedFingerprint, ":", "")), "spec.tls.certificateFingerprint in body should match"),
		Entry("a certificateFingerprint one pair short", "ProxmoxHost", set("spec.tls.certificateFingerprint", pinnedFingerprint[3:]), "spec.tls.certificateFingerprint in body should match"),
		Entry("a certificateFingerprint with a non-hex digit", "ProxmoxHost", set("spec.tls.certificateFingerprint", "XY"+pinnedFingerprint[2:]), "spec.tls.certificateFingerprint in body should match"),
		Entry("certificateFingerprint together with insecureSkipVerify", "ProxmoxHost", set("spec.tls", "{insecureSkipVerify: true, certificateFingerprint: '"+pinnedFingerprint+"'}"), "tls.certificateFingerprint and tls.insecureSkipVerify are mutually exclusive"),
		Entry("certificateFingerprint together with caBundle", "ProxmoxHost", set("spec.tls", "{caBundle: '-----BEGIN CERTIFICATE-----', certificateFingerprint: '"+pinnedFingerprint+"'}"), "tls.certificateFingerprint and tls.caBundle are mutually exclusive"),
		Entry("a syncInterval of 1s", "ProxmoxHost", set("spec.syncInterval", "1s"), "syncInterval must be between 5s and 1h"),
		Entry("an ssh port above 65535", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: n}, port: 70000}"), "should be less than or equal to 65535"),
		// Backup
		Entry("an unknown backup type", "Backup", set("spec.type", "Full"), `Unsupported value: "Full"`),
		Entry("an unknown compression", "Backup", set("spec.compress", "xz"), `Unsupported value: "xz"`),
		Entry("a storage on a Snapshot backup", "Backup", set("spec.type", "Snapshot"), "storage and protected apply only to type Archive"),
		Entry("a ttl under a minute", "Backup", set("spec.ttl", "30s"), ttlMessage),
		Entry("no applicationRef", "Backup", del("spec.applicationRef"), "spec.applicationRef: Required value"),
		// Restore
		Entry("a Restore without backupRef", "Restore", del("spec.backupRef"), "spec.backupRef: Required value"),
		// BackupSchedule
		Entry("a schedule in words", "BackupSchedule", set("spec.schedule", "every day"), "schedule must be a 5-field cron expression"),
		Entry("a schedule with minute 61", "BackupSchedule", set("spec.schedule", "61 * * * *"), "schedule must be a 5-field cron expression"),
		Entry("a schedule with six fields", "BackupSchedule", set("spec.schedule", "0 0 3 * * *"), "schedule must be a 5-field cron expression"),
		Entry("both applicationSelector and applicationRef", "BackupSchedule", set("spec.applicationSelector", "{matchLabels: {tier: web}}"), "exactly one of applicationSelector or applicationRef is required"),
		Entry("neither applicationSelector nor applicationRef", "BackupSchedule", del("spec.applicationRef"), "exactly one of applicationSelector or applicationRef is required"),
		Entry("keepLast of 0", "BackupSchedule", set("spec.keepLast", 0), "should be greater than or equal to 1"),
		Entry("the operator's local zone", "BackupSchedule", set("spec.timeZone", "Local"), timeZoneMessage),
		Entry("the zoneinfo file posixrules", "BackupSchedule", set("spec.timeZone", "posixrules"), timeZoneMessage),
		Entry("the zoneinfo link localtime", "BackupSchedule", set("spec.timeZone", "localtime"), timeZoneMessage),
		Entry("a zone from the right/ copy of the database", "BackupSchedule", set("spec.timeZone", "right/UTC"), timeZoneMessage),
		Entry("a zone from the posix/ copy of the database", "BackupSchedule", set("spec.timeZone", "posix/Europe/Berlin"), timeZoneMessage),
		Entry("a time zone climbing out of the zoneinfo directory", "BackupSchedule", set("spec.timeZone", "../../etc/localtime"), timeZoneMessage),
		Entry("a time zone climbing out after a zone name", "BackupSchedule", set("spec.timeZone", "Europe/../../etc/passwd"), timeZoneMessage),
		Entry("an absolute time zone path", "BackupSchedule", set("spec.timeZone", "/etc/localtime"), timeZoneMessage),
		Entry("a time zone with an empty part", "BackupSchedule", set("spec.timeZone", "Europe//Berlin"), timeZoneMessage),
		Entry("a time zone with a trailing slash", "BackupSchedule", set("spec.timeZone", "Europe/"), timeZoneMessage),
		Entry("keepLast above 1000", "BackupSchedule", set("spec.keepLast", 1001), "should be less than or equal to 1000"),
	)

	// Each range rule, one value just outside each end it has.
	DescribeTable("rejects a value just outside a range",
		func(kind string, e edit, message string) {
			u := newObject(kind)
			e(u)
			expectRejected(k8s.Create(ctx, u), message)
		},
		Entry("memory 1Mi below 16Mi", "Application", set("spec.resources.memory", "15Mi"), memoryMessage),
		Entry("memory 1Mi above 64Ti", "Application", set("spec.resources.memory", "67108865Mi"), memoryMessage),
		Entry("memory with a decimal point", "Application", set("spec.resources.memory", "0.5Gi"), memoryMessage),
		Entry("swap 1Mi above 64Ti", "Application", set("spec.resources.swap", "67108865Mi"), swapMessage),
		Entry("swap 1Ki above a whole MiB", "Application", set("spec.resources.swap", "1025Ki"), swapMessage),
		Entry("cores above 8192", "Application", set("spec.resources.cores", 8193), "should be less than or equal to 8192"),
		Entry("a cpuLimit a millicore below 0", "Application", set("spec.resources.cpuLimit", "-1m"), cpuLimitMessage),
		Entry("a cpuLimit a millicore above 8192", "Application", set("spec.resources.cpuLimit", "8192001m"), cpuLimitMessage),
		Entry("a negative cpuUnits", "Application", set("spec.resources.cpuUnits", -1), "should be greater than or equal to 0"),
		Entry("a rootFS 1Mi below 1Gi", "Application", set("spec.rootFS.size", "1023Mi"), sizeMessage),
		Entry("a rootFS 1Gi above 128Ti", "Application", set("spec.rootFS.size", "131073Gi"), sizeMessage),
		Entry("a rootFS of 129Ti", "Application", set("spec.rootFS.size", "129Ti"), sizeMessage),
		Entry("a rootFS with a decimal point", "Application", set("spec.rootFS.size", "1.5Ti"), sizeMessage),
		Entry("a rootFS with an exponent", "Application", set("spec.rootFS.size", "1073741824e0"), sizeMessage),
		Entry("a mount point 1Gi above 128Ti", "Application", set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 131073Gi, path: /srv/data}]"), sizeMessage),
		Entry("a mount point 1Mi below 1Gi", "Application", set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 1023Mi, path: /srv/data}]"), sizeMessage),
		Entry("vlan 0", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, vlan: 0}]"), "should be greater than or equal to 1"),
		Entry("vlan 4095", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, vlan: 4095}]"), "should be less than or equal to 4094"),
		Entry("mtu 63", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, mtu: 63}]"), "should be greater than or equal to 64"),
		Entry("mtu 65536", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, mtu: 65536}]"), "should be less than or equal to 65535"),
		Entry("a negative rate", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, rate: '-1'}]"), "rate must be a positive number of MB/s"),
		Entry("ttys -1", "Application", set("spec.ttys", -1), "should be greater than or equal to 0"),
		Entry("a provision timeout of 0s", "Application", set("spec.provision", "{script: 'true', timeout: 0s}"), "timeout must be greater than 0 and at most 30m"),
		Entry("a provision timeout a second above 30m", "Application", set("spec.provision", "{script: 'true', timeout: 30m1s}"), "timeout must be greater than 0 and at most 30m"),
		Entry("a provision script a byte over 64 KiB", "Application", set("spec.provision.script", strings.Repeat("x", 65535)+"é"), scriptSizeMessage),
		Entry("a provision script with a NUL byte", "Application", set("spec.provision.script", "echo a\x00b"), "script must not contain a NUL byte"),
		Entry("an empty provision script", "Application", set("spec.provision.script", ""), "spec.provision.script in body should be at least 1 chars long"),
		Entry("a syncInterval a second below 5s", "ProxmoxHost", set("spec.syncInterval", "4s"), "syncInterval must be between 5s and 1h"),
		Entry("a syncInterval a second above 1h", "ProxmoxHost", set("spec.syncInterval", "1h0m1s"), "syncInterval must be between 5s and 1h"),
		Entry("an ssh port of 0", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, port: 0}"), "should be greater than or equal to 1"),
		Entry("an ssh connectTimeout of 0s", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, connectTimeout: 0s}"), "connectTimeout must be greater than 0 and at most 5m"),
		Entry("an ssh connectTimeout a second above 5m", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, connectTimeout: 5m1s}"), "connectTimeout must be greater than 0 and at most 5m"),
		Entry("an ssh commandTimeout of 0s", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, commandTimeout: 0s}"), "commandTimeout must be greater than 0 and at most 30m"),
		Entry("an ssh commandTimeout a second above 30m", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, commandTimeout: 30m1s}"), "commandTimeout must be greater than 0 and at most 30m"),
		Entry("an image unusedFor a second below 1m", "ProxmoxHost", set("spec.imageGarbageCollection", "{unusedFor: 59s}"), unusedForMessage),
		Entry("an image unusedFor an hour above 876000h", "ProxmoxHost", set("spec.imageGarbageCollection", "{unusedFor: 876001h}"), unusedForMessage),
		Entry("an image unusedFor too large for a duration", "ProxmoxHost", set("spec.imageGarbageCollection", "{unusedFor: 9999999h}"), unusedForMessage),
		Entry("a VMID range ending above 999999999", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, adopt: {vmidRanges: [{from: 100, to: 1000000000}]}}]"), "should be less than or equal to 999999999"),
		Entry("a disk quota a byte below 0", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, quota: {disk: '-1'}}]"), "disk must be a non-negative quantity"),
		Entry("a pendingBackups quota below 0", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, quota: {pendingBackups: -1}}]"), "should be greater than or equal to 0"),
		Entry("a pendingBackups quota above 10000", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, quota: {pendingBackups: 10001}}]"), "should be less than or equal to 10000"),
		Entry("a ttl a second below 1m", "Backup", set("spec.ttl", "59s"), ttlMessage),
		Entry("a ttl an hour above 876000h", "Backup", set("spec.ttl", "876001h"), ttlMessage),
		Entry("a ttl too large for a duration", "Backup", set("spec.ttl", "9999999h"), ttlMessage),
	)

	// The same ranges, one value just inside each end.
	DescribeTable("admits a value just inside a range",
		func(kind string, e edit) {
			u := newObject(kind)
			e(u)
			Expect(k8s.Create(ctx, u)).To(Succeed())
		},
		Entry("memory of 16Mi", "Application", set("spec.resources.memory", "16Mi")),
		Entry("memory of 64Ti", "Application", set("spec.resources.memory", "64Ti")),
		Entry("memory of 64Ti in MiB", "Application", set("spec.resources.memory", "67108864Mi")),
		Entry("swap of 0", "Application", set("spec.resources.swap", "0")),
		Entry("swap of 64Ti in MiB", "Application", set("spec.resources.swap", "67108864Mi")),
		Entry("cores of 1 and 8192", "Application", set("spec.resources.cores", 8192)),
		Entry("a cpuLimit of 8192", "Application", set("spec.resources.cpuLimit", "8192")),
		Entry("cpuUnits of 500000", "Application", set("spec.resources.cpuUnits", 500000)),
		Entry("a rootFS of 1Gi", "Application", set("spec.rootFS.size", "1Gi")),
		Entry("a rootFS of 1Gi in bytes", "Application", set("spec.rootFS.size", "1073741824")),
		Entry("a rootFS of 100Ti", "Application", set("spec.rootFS.size", "100Ti")),
		Entry("a rootFS of 128Ti", "Application", set("spec.rootFS.size", "128Ti")),
		Entry("a rootFS of 128Ti in GiB", "Application", set("spec.rootFS.size", "131072Gi")),
		Entry("a rootFS of 128Ti in MiB", "Application", set("spec.rootFS.size", "134217728Mi")),
		Entry("a rootFS of 128Ti in bytes", "Application", set("spec.rootFS.size", "140737488355328")),
		Entry("a mount point of 128Ti", "Application", set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 128Ti, path: /srv/data}]")),
		Entry("vlan 1 and mtu 64", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, vlan: 1, mtu: 64}]")),
		Entry("vlan 4094 and mtu 65535", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, vlan: 4094, mtu: 65535}]")),
		Entry("a rate of 0.001 MB/s", "Application", set("spec.network", "[{name: eth0, ipv4: dhcp, rate: '0.001'}]")),
		Entry("ttys 0", "Application", set("spec.ttys", 0)),
		Entry("ttys 6", "Application", set("spec.ttys", 6)),
		Entry("a provision timeout of 1s", "Application", set("spec.provision", "{script: 'true', timeout: 1s}")),
		Entry("a provision timeout of 30m", "Application", set("spec.provision", "{script: 'true', timeout: 30m}")),
		Entry("a provision script of exactly 64 KiB", "Application", set("spec.provision.script", strings.Repeat("x", 65534)+"é")),
		Entry("a description of exactly 8 KiB", "Application", set("spec.description", strings.Repeat("x", 8192))),
		Entry("a syncInterval of 5s", "ProxmoxHost", set("spec.syncInterval", "5s")),
		Entry("a syncInterval of 1h", "ProxmoxHost", set("spec.syncInterval", "1h")),
		Entry("an ssh port of 65535 with the longest timeouts", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, port: 65535, connectTimeout: 5m, commandTimeout: 30m}")),
		Entry("an ssh port of 1 with the shortest timeouts", "ProxmoxHost", set("spec.ssh", "{credentialsRef: {name: s, namespace: ns}, port: 1, connectTimeout: 1ms, commandTimeout: 1ms}")),
		Entry("an image unusedFor of 1m", "ProxmoxHost", set("spec.imageGarbageCollection", "{unusedFor: 1m}")),
		Entry("an image unusedFor of 876000h", "ProxmoxHost", set("spec.imageGarbageCollection", "{unusedFor: 876000h}")),
		Entry("a VMID range of one container at each end", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, adopt: {vmidRanges: [{from: 100, to: 100}, {from: 999999999, to: 999999999}]}}]")),
		Entry("quotas of 0", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, quota: {memory: '0', disk: '0', pendingBackups: 0}}]")),
		Entry("a pendingBackups quota of 10000", "ProxmoxHost", set("spec.grants", "[{namespaceSelector: {}, quota: {pendingBackups: 10000}}]")),
		Entry("a ttl of 1m", "Backup", set("spec.ttl", "1m")),
		Entry("a ttl of 876000h", "Backup", set("spec.ttl", "876000h")),
		Entry("keepLast of 1", "BackupSchedule", set("spec.keepLast", 1)),
		Entry("keepLast of 1000", "BackupSchedule", set("spec.keepLast", 1000)),
	)

	DescribeTable("rejects at update time",
		func(kind string, before, after edit, message string) {
			u := newObject(kind)
			before(u)
			Expect(k8s.Create(ctx, u)).To(Succeed())
			after(u)
			expectRejected(k8s.Update(ctx, u), message)
		},
		Entry("changing hostRef", "Application", noop, set("spec.hostRef.name", "other"), "hostRef is immutable"),
		Entry("changing vmid", "Application", set("spec.vmid", 300), set("spec.vmid", 301), "vmid is immutable once set"),
		Entry("removing vmid", "Application", set("spec.vmid", 302), del("spec.vmid"), "vmid is immutable once set and cannot be removed"),
		Entry("changing template", "Application", noop, set("spec.template", "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz"), "template is immutable"),
		Entry("flipping unprivileged", "Application", noop, set("spec.unprivileged", false), "unprivileged is immutable"),
		Entry("shrinking rootFS", "Application", noop, set("spec.rootFS.size", "4Gi"), "size can only grow"),
		Entry("moving rootFS to another storage", "Application", noop, set("spec.rootFS.storage", "local-zfs"), "rootFS.storage is immutable"),
		Entry("shrinking a mount point", "Application", noop, set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 2Gi, path: /srv/data}]"), "size can only grow"),
		Entry("adding sshPublicKeys after create", "Application", noop, set("spec.sshPublicKeys", "['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host']"), "sshPublicKeys is create-only"),
		Entry("adding a rootPasswordSecretRef after create", "Application", noop, set("spec.rootPasswordSecretRef", "{name: s, key: password}"), "rootPasswordSecretRef is create-only"),
		Entry("turning a volume mount point into a bind mount", "Application", noop, set("spec.mountPoints", "[{name: mp0, hostPath: /tank, path: /srv/data}]"), "a mount point cannot change between a volume and a bind mount"),
		Entry("changing a Backup's mode", "Backup", noop, set("spec.mode", "stop"), "a Backup's spec is immutable except ttl"),
		Entry("changing a Backup's storage", "Backup", noop, set("spec.storage", "nfs"), "a Backup's spec is immutable except ttl"),
		Entry("changing a Restore's backup", "Restore", noop, set("spec.backupRef.name", "other"), "a Restore's spec is immutable"),
	)

	DescribeTable("admits at create time",
		func(kind string, e edit) {
			u := newObject(kind)
			e(u)
			Expect(k8s.Create(ctx, u)).To(Succeed())
		},
		Entry("a certificateFingerprint in upper case", "ProxmoxHost", set("spec.tls.certificateFingerprint", pinnedFingerprint)),
		Entry("a certificateFingerprint in lower case", "ProxmoxHost", set("spec.tls.certificateFingerprint", strings.ToLower(pinnedFingerprint))),
		Entry("an Application declaring every container key", "Application", set("spec", everyKeySpec)),
		Entry("a bind mount without size", "Application", set("spec.mountPoints", "[{name: mp1, hostPath: /tank/media, path: /media, readOnly: true}]")),
		Entry("a cpuLimit and cpuUnits of 0", "Application", chain(set("spec.resources.cpuLimit", "0"), set("spec.resources.cpuUnits", 0))),
		Entry("a cpuLimit in millicores", "Application", set("spec.resources.cpuLimit", "500m")),
		Entry("the node's time zone", "Application", set("spec.timezone", "host")),
		Entry("a schedule in UTC", "BackupSchedule", set("spec.timeZone", "UTC")),
		Entry("a schedule in Etc/UTC", "BackupSchedule", set("spec.timeZone", "Etc/UTC")),
		Entry("a schedule in a fixed offset zone", "BackupSchedule", set("spec.timeZone", "Etc/GMT+5")),
		Entry("a schedule in a three-part zone", "BackupSchedule", set("spec.timeZone", "America/Argentina/Buenos_Aires")),
		Entry("a provision script full of quotes, dollars and backslashes", "Application", set("spec.provision.script", "printf '%s\\n' \"it's\" '$HOME' `id`\n\techo \\\\\n")),
	)

	DescribeTable("admits allowed updates",
		func(kind string, before, after edit) {
			u := newObject(kind)
			before(u)
			Expect(k8s.Create(ctx, u)).To(Succeed())
			after(u)
			Expect(k8s.Update(ctx, u)).To(Succeed())
		},
		Entry("growing rootFS", "Application", noop, set("spec.rootFS.size", "16Gi")),
		Entry("growing a mount point", "Application", noop, set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 8Gi, path: /srv/data}]")),
		Entry("setting vmid that was unset", "Application", noop, set("spec.vmid", 400)),
		Entry("re-optioning a mount point and adding another", "Application", noop, set("spec.mountPoints", "[{name: mp0, storage: local-lvm, size: 4Gi, path: /srv/www, readOnly: true, acl: false, mountOptions: [noatime]}, {name: mp1, storage: local-lvm, size: 1Gi, path: /logs}]")),
		Entry("removing every mount point", "Application", noop, set("spec.mountPoints", "[]")),
		Entry("changing a NIC's MAC, rate and trunks", "Application", noop, set("spec.network", "[{name: eth0, ipv4: dhcp, macAddress: 'BC:24:11:2E:C5:7E', rate: '12.5', trunks: [10, 20], linkDown: true}]")),
		Entry("changing cores, memory, tags and powerState", "Application", noop, chain(set("spec.resources.cores", 4), set("spec.resources.memory", "2Gi"), set("spec.tags", "[a, b]"), set("spec.powerState", "Stopped"))),
		Entry("changing a Backup's ttl", "Backup", noop, set("spec.ttl", "48h")),
		Entry("suspending a BackupSchedule", "BackupSchedule", noop, set("spec.suspend", true)),
	)

	It("applies defaults", func() {
		app := newObject("Application")
		Expect(k8s.Create(ctx, app)).To(Succeed())
		Expect(app.Object["spec"]).To(HaveKeyWithValue("powerState", "Running"))
		Expect(app.Object["spec"]).To(HaveKeyWithValue("unprivileged", true))
		Expect(app.Object["spec"]).To(HaveKeyWithValue("adopt", false))
		nets, _, _ := unstructured.NestedSlice(app.Object, "spec", "network")
		Expect(nets[0]).To(HaveKeyWithValue("bridge", "vmbr0"))

		host := newObject("ProxmoxHost")
		Expect(unstructured.SetNestedField(host.Object, map[string]any{"credentialsRef": map[string]any{"name": "s", "namespace": "n"}}, "spec", "ssh")).To(Succeed())
		Expect(k8s.Create(ctx, host)).To(Succeed())
		Expect(host.Object["spec"]).To(HaveKeyWithValue("syncInterval", "30s"))
		ssh, _, _ := unstructured.NestedMap(host.Object, "spec", "ssh")
		Expect(ssh).To(And(HaveKeyWithValue("user", "root"), HaveKeyWithValue("port", BeNumerically("==", 22)),
			HaveKeyWithValue("connectTimeout", "30s"), HaveKeyWithValue("commandTimeout", "60s")))

		backup := newObject("Backup")
		Expect(k8s.Create(ctx, backup)).To(Succeed())
		Expect(backup.Object["spec"]).To(And(HaveKeyWithValue("type", "Archive"), HaveKeyWithValue("mode", "snapshot"),
			HaveKeyWithValue("compress", "zstd"), HaveKeyWithValue("deletionPolicy", "Delete")))

		sched := newObject("BackupSchedule")
		Expect(k8s.Create(ctx, sched)).To(Succeed())
		Expect(sched.Object["spec"]).To(HaveKeyWithValue("keepLast", BeNumerically("==", 7)))
	})
})

var _ = Describe("The samples in config/samples", func() {
	It("are all accepted by the apiserver", func() {
		dir := filepath.Join(testenv.RepoRoot(), "config", "samples")
		files, err := filepath.Glob(filepath.Join(dir, "proxmox_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		kinds := map[string]bool{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			for _, doc := range strings.Split(string(data), "\n---\n") {
				js, err := yaml.YAMLToJSON([]byte(doc))
				Expect(err).NotTo(HaveOccurred(), f)
				u := &unstructured.Unstructured{}
				Expect(u.UnmarshalJSON(js)).To(Succeed(), f)
				if ns := u.GetNamespace(); ns != "" {
					err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
					Expect(err == nil || apierrors.IsAlreadyExists(err)).To(BeTrue(), "%v", err)
				}
				Expect(k8s.Create(ctx, u)).To(Succeed(), "%s: %s/%s", filepath.Base(f), u.GetKind(), u.GetName())
				kinds[u.GetKind()] = true
			}
		}
		Expect(kinds).To(HaveKey("ProxmoxHost"))
		Expect(kinds).To(HaveKey("Application"))
		Expect(kinds).To(HaveKey("Backup"))
		Expect(kinds).To(HaveKey("Restore"))
		Expect(kinds).To(HaveKey("BackupSchedule"))
	})
})

// everyKeySpec is a valid spec using every container key of issue 16.
const everyKeySpec = `{
  hostRef: {name: dev},
  template: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst',
  resources: {cores: 2, memory: 1Gi, cpuLimit: '1.5', cpuUnits: 2048},
  rootFS: {storage: local-lvm, size: 8Gi, acl: true, replicate: false, mountOptions: [noatime, discard]},
  mountPoints: [
    {name: mp0, storage: local-lvm, size: 4Gi, path: /srv, backup: true, keepAttrs: true, quota: true, shared: true, readOnly: true},
    {name: mp1, hostPath: /tank/media, path: /media, readOnly: true}],
  network: [{name: eth0, bridge: vmbr1, macAddress: 'BC:24:11:AA:BB:CC', ipv4: manual, ipv6: manual, rate: '12.5', trunks: [10, 20], linkDown: true, hostManaged: true}],
  devices: [{name: dev0, path: /dev/dri/renderD128, mode: '0660', uid: 0, gid: 44, denyWrite: true}],
  features: {nesting: true, mknod: true, forceRWSys: true, mount: [nfs, cifs]},
  startup: {order: 2, upDelaySeconds: 30, downTimeoutSeconds: 60},
  hookscript: 'local:snippets/hook.sh', timezone: Europe/Vienna, osType: debian, arch: arm64,
  console: false, consoleMode: shell, ttys: 4, debug: true, description: "Web frontend.\nOwned by team A."
}`

// The messages of the range rules, in full: a test fails when a message
// stops stating its rule.
const (
	memoryMessage     = "memory must be a whole number of MiB between 16Mi and 64Ti, written as digits with an optional unit suffix"
	swapMessage       = "swap must be a whole number of MiB between 0 and 64Ti, written as digits with an optional unit suffix"
	cpuLimitMessage   = "cpuLimit must be a number of cores between 0 and 8192"
	sizeMessage       = "size must be a whole number of GiB between 1Gi and 128Ti, written as digits with an optional unit suffix"
	scriptSizeMessage = "script must be at most 65536 bytes (64 KiB) in UTF-8"
	ttlMessage        = "ttl must be between 1m and 876000h (100 years)"
	unusedForMessage  = "unusedFor must be between 1m and 876000h (100 years)"
	timeZoneMessage   = "timeZone must be an IANA time zone name such as Europe/Berlin or UTC"
)

func noop(*unstructured.Unstructured) {}

func chain(edits ...edit) edit {
	return func(u *unstructured.Unstructured) {
		for _, e := range edits {
			e(u)
		}
	}
}
