//! A minimal reader of the kernel's BTF: just enough to find struct member offsets.
//!
//! General BTF libraries decode every one of vmlinux's ~100k types into owned values, which
//! costs ~200 ms; the sensor must load and attach in well under 300 ms, so this walks the type
//! section once, records where each type starts, and decodes only what is asked for.

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("not BTF data (bad magic or header)")]
    Header,
    #[error("BTF type section is truncated at type {0}")]
    Truncated(u32),
    #[error("unknown BTF kind {kind} at type {id}")]
    UnknownKind { kind: u32, id: u32 },
}

pub struct Btf {
    data: Vec<u8>,
    strings: std::ops::Range<usize>,
    /// Byte offset in `data` of each type, indexed by type id (id 0 is void).
    types: Vec<usize>,
}

/// One member of a struct or union.
pub struct Member<'a> {
    pub name: &'a [u8],
    pub type_id: u32,
    pub bit_offset: u32,
}

impl Btf {
    pub fn parse(data: Vec<u8>) -> Result<Self, BtfError> {
        let u32_at = |off: usize| -> Option<u32> {
            data.get(off..off + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let magic = data.get(0..2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        if magic != Some(MAGIC) {
            return Err(BtfError::Header);
        }
        let hdr_len = u32_at(4).ok_or(BtfError::Header)? as usize;
        let type_off = u32_at(8).ok_or(BtfError::Header)? as usize;
        let type_len = u32_at(12).ok_or(BtfError::Header)? as usize;
        let str_off = u32_at(16).ok_or(BtfError::Header)? as usize;
        let str_len = u32_at(20).ok_or(BtfError::Header)? as usize;
        let types_start = hdr_len + type_off;
        let types_end = types_start + type_len;
        let strings = hdr_len + str_off..hdr_len + str_off + str_len;
        if types_end > data.len() || strings.end > data.len() {
            return Err(BtfError::Header);
        }

        let mut types = vec![0usize];
        let mut off = types_start;
        while off < types_end {
            let id = types.len() as u32;
            let info = u32_at(off + 4).ok_or(BtfError::Truncated(id))?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                2 | 7 | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | 12 | 16
                | KIND_TYPE_TAG => 0,
                _ => return Err(BtfError::UnknownKind { kind, id }),
            };
            types.push(off);
            off += 12 + extra;
        }
        if off != types_end {
            return Err(BtfError::Truncated(types.len() as u32));
        }
        Ok(Self {
            data,
            strings,
            types,
        })
    }

    fn u32_at(&self, off: usize) -> u32 {
        self.data
            .get(off..off + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&self, name_off: u32) -> &[u8] {
        let start = self.strings.start + name_off as usize;
        let rest = self.data.get(start..self.strings.end).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// (kind, vlen, kind_flag, size_or_type) of a type.
    fn header(&self, id: u32) -> Option<(u32, usize, bool, u32)> {
        let off = *self.types.get(id as usize)?;
        if id == 0 {
            return None;
        }
        let info = self.u32_at(off + 4);
        Some((
            (info >> 24) & 0x1f,
            (info & 0xffff) as usize,
            info >> 31 == 1,
            self.u32_at(off + 8),
        ))
    }

    /// The id of the complete (non-empty) struct named `name`.
    pub fn struct_id(&self, name: &str) -> Option<u32> {
        (1..self.types.len() as u32).find(|&id| {
            matches!(self.header(id), Some((KIND_STRUCT, vlen, _, _)) if vlen > 0)
                && self.name(self.u32_at(self.types[id as usize])) == name.as_bytes()
        })
    }

    /// Whether the enum named `enum_name` has a value named `value`.
    pub fn enum_has(&self, enum_name: &str, value: &str) -> bool {
        (1..self.types.len() as u32).any(|id| {
            let Some((KIND_ENUM, vlen, _, _)) = self.header(id) else {
                return false;
            };
            let base = self.types[id as usize];
            self.name(self.u32_at(base)) == enum_name.as_bytes()
                && (0..vlen).any(|i| self.name(self.u32_at(base + 12 + 8 * i)) == value.as_bytes())
        })
    }

    /// Size in bytes of a struct or union.
    pub fn size(&self, id: u32) -> Option<u32> {
        match self.header(id)? {
            (KIND_STRUCT | KIND_UNION, _, _, size) => Some(size),
            _ => None,
        }
    }

    pub fn members(&self, id: u32) -> Vec<Member<'_>> {
        let Some((KIND_STRUCT | KIND_UNION, vlen, kind_flag, _)) = self.header(id) else {
            return Vec::new();
        };
        let base = self.types[id as usize] + 12;
        (0..vlen)
            .map(|i| {
                let m = base + 12 * i;
                let offset = self.u32_at(m + 8);
                Member {
                    name: self.name(self.u32_at(m)),
                    type_id: self.u32_at(m + 4),
                    bit_offset: if kind_flag {
                        offset & 0xff_ffff
                    } else {
                        offset
                    },
                }
            })
            .collect()
    }

    /// Follows typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.header(id) {
                Some((
                    KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG,
                    _,
                    _,
                    next,
                )) => id = next,
                _ => break,
            }
        }
        id
    }

    /// Byte offset of `field` in struct `id`, looking through anonymous structs and unions
    /// (the kernel wraps fields in them for layout randomisation).
    pub fn member_offset(&self, id: u32, field: &str) -> Option<u32> {
        for member in self.members(id) {
            if member.name == field.as_bytes() {
                return Some(member.bit_offset / 8);
            }
            if member.name.is_empty() {
                let inner = self.resolve(member.type_id);
                if let Some(off) = self.member_offset(inner, field) {
                    return Some(member.bit_offset / 8 + off);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_btf() {
        assert!(matches!(Btf::parse(vec![0; 64]), Err(BtfError::Header)));
    }

    #[test]
    fn reads_this_kernels_task_struct() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            return; // kernels without BTF are covered by the error path of the probe
        };
        let btf = Btf::parse(data).expect("vmlinux BTF parses");
        let task = btf.struct_id("task_struct").expect("task_struct");
        let pid = btf.member_offset(task, "pid").expect("pid");
        let tgid = btf.member_offset(task, "tgid").expect("tgid");
        // pid_t pid; pid_t tgid; are adjacent in every kernel since 2.6.
        assert_eq!(tgid, pid + 4);
        assert!(btf.size(btf.struct_id("upid").expect("upid")).unwrap() >= 12);
        assert!(btf.enum_has("bpf_func_id", "BPF_FUNC_probe_read_kernel"));
        assert!(!btf.enum_has("bpf_func_id", "BPF_FUNC_no_such_helper"));
    }
}
