//! Reads the structure offsets the eBPF programs need from the running kernel's BTF.

use btf_rs::{Btf, Type};
use sensor_common::KernelOffsets;

use super::tracefs;

const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, thiserror::Error)]
pub enum OffsetsError {
    #[error("cannot read the kernel's BTF at {VMLINUX_BTF} ({0}); the sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    Btf(String),
    #[error("the kernel's BTF has no `{0}`; this kernel is not supported")]
    Missing(String),
    #[error("the kernel's `struct cred` does not keep uid..fsgid adjacent; this kernel is not supported")]
    CredLayout,
}

struct Structs<'a> {
    btf: &'a Btf,
}

impl Structs<'_> {
    fn find_struct(&self, name: &str) -> Result<btf_rs::Struct, OffsetsError> {
        let types = self
            .btf
            .resolve_types_by_name(name)
            .map_err(|_| OffsetsError::Missing(format!("struct {name}")))?;
        types
            .into_iter()
            .find_map(|t| match t {
                Type::Struct(s) if !s.members.is_empty() => Some(s),
                _ => None,
            })
            .ok_or_else(|| OffsetsError::Missing(format!("struct {name}")))
    }

    /// Byte offset of `field` in `s`, looking through anonymous structs and unions (the kernel
    /// wraps fields in them for layout randomisation and unions).
    fn member_offset(&self, s: &btf_rs::Struct, field: &str) -> Option<u32> {
        for member in &s.members {
            let name = self.btf.resolve_name(member).unwrap_or_default();
            if name == field {
                return Some(member.bit_offset() / 8);
            }
            if name.is_empty() {
                let inner = self.btf.resolve_chained_type(member).ok()?;
                let inner = self.strip(inner);
                if let Type::Struct(inner) | Type::Union(inner) = inner {
                    if let Some(off) = self.member_offset(&inner, field) {
                        return Some(member.bit_offset() / 8 + off);
                    }
                }
            }
        }
        None
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn strip(&self, mut t: Type) -> Type {
        for _ in 0..16 {
            match &t {
                Type::Typedef(_)
                | Type::Volatile(_)
                | Type::Const(_)
                | Type::Restrict(_)
                | Type::TypeTag(_) => {
                    let Some(next) = t
                        .as_btf_type()
                        .and_then(|b| self.btf.resolve_chained_type(b).ok())
                    else {
                        return t;
                    };
                    t = next;
                }
                _ => return t,
            }
        }
        t
    }

    fn offset(&self, s: &btf_rs::Struct, sname: &str, field: &str) -> Result<u32, OffsetsError> {
        self.member_offset(s, field)
            .ok_or_else(|| OffsetsError::Missing(format!("{sname}.{field}")))
    }
}

/// Reads every offset from this kernel.
pub fn read() -> Result<KernelOffsets, OffsetsError> {
    let btf = Btf::from_file(VMLINUX_BTF).map_err(|e| OffsetsError::Btf(e.to_string()))?;
    let s = Structs { btf: &btf };
    let task = s.find_struct("task_struct")?;
    let cred = s.find_struct("cred")?;
    let nsproxy = s.find_struct("nsproxy")?;
    let mnt_ns = s.find_struct("mnt_namespace")?;
    let pid = s.find_struct("pid")?;
    let upid = s.find_struct("upid")?;
    let pid_ns = s.find_struct("pid_namespace")?;
    let ns_common = s.find_struct("ns_common")?;
    let inum = s.offset(&ns_common, "ns_common", "inum")?;

    let ids: Vec<u32> = [
        "uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid",
    ]
    .iter()
    .map(|f| s.offset(&cred, "cred", f))
    .collect::<Result<_, _>>()?;
    if ids.windows(2).any(|w| w[1] != w[0] + 4) {
        return Err(OffsetsError::CredLayout);
    }

    Ok(KernelOffsets {
        task_real_parent: s.offset(&task, "task_struct", "real_parent")?,
        task_pid: s.offset(&task, "task_struct", "pid")?,
        task_tgid: s.offset(&task, "task_struct", "tgid")?,
        task_group_leader: s.offset(&task, "task_struct", "group_leader")?,
        // Without CONFIG_AUDIT there is no loginuid; the programs then report it unset.
        task_loginuid: s
            .member_offset(&task, "loginuid")
            .unwrap_or(KernelOffsets::MISSING),
        task_cred: s.offset(&task, "task_struct", "cred")?,
        task_nsproxy: s.offset(&task, "task_struct", "nsproxy")?,
        task_thread_pid: s.offset(&task, "task_struct", "thread_pid")?,
        nsproxy_mnt_ns: s.offset(&nsproxy, "nsproxy", "mnt_ns")?,
        mnt_ns_inum: s.offset(&mnt_ns, "mnt_namespace", "ns")? + inum,
        pid_level: s.offset(&pid, "pid", "level")?,
        pid_numbers: s.offset(&pid, "pid", "numbers")?,
        upid_size: upid.size() as u32,
        upid_nr: s.offset(&upid, "upid", "nr")?,
        upid_ns: s.offset(&upid, "upid", "ns")?,
        pid_ns_inum: s.offset(&pid_ns, "pid_namespace", "ns")? + inum,
        cred_ids: ids[0],
        task_exit_code: s.offset(&task, "task_struct", "exit_code")?,
        tp_exit_group_dead: tracefs::field_offset("sched", "sched_process_exit", "group_dead")
            .unwrap_or(KernelOffsets::MISSING),
    })
}
