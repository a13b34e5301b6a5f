//! The byte form of a `train::Checkpoint`, as the store keeps it (opaque to the store).
//!
//! Version 1, all integers and floats little-endian:
//!
//! ```text
//! "TYCKPT" version:u16                       8 bytes
//! fingerprint                                32 bytes: SHA-256 of the run (see below)
//! epoch:u64 step:u64
//! scalars:u32, each   name:str f64           (exact bits)
//! tensors:u32, each   name:str ndim:u8 dims:u64… values:f32…   (∏dims values)
//! within:u8 (0 | 1), then when 1:
//!     batches:u64 loss_sum:f64 metric_sums:vec grad_norm_sums:vec ratio_sums:vec
//!     dropout_position:u128 augmentation_position:u128
//! SHA-256 of every byte above                32 bytes
//! ```
//!
//! where `str` is a `u16` byte length and UTF-8, and `vec` a `u32` count and `f64`s. The
//! fingerprint is the SHA-256 of the job's resolved spec and its seed ([`fingerprint`]), so a
//! checkpoint is only ever read back into the run that wrote it. [`decode`] checks the magic,
//! the version, the checksum, every length and the fingerprint, and says what was wrong; it
//! never panics on any input.

use sha2::{Digest, Sha256};

use crate::train::{Checkpoint, EpochProgress, Tensor};

const MAGIC: &[u8; 6] = b"TYCKPT";
/// The format [`encode`] writes; [`decode`] reads only this one.
pub const VERSION: u16 = 1;
const DIGEST: usize = 32;

/// Why stored checkpoint bytes cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a checkpoint (bad magic bytes)")]
    NotACheckpoint,
    #[error("checkpoint format version {0} is not supported (this server reads {VERSION})")]
    Version(u16),
    #[error("the checksum does not match: the checkpoint is corrupt")]
    Checksum,
    #[error("the checkpoint is malformed: {0}")]
    Malformed(String),
    #[error("the checkpoint belongs to a different spec or seed")]
    Mismatch,
}

/// What a checkpoint must have been written by: the SHA-256 of the resolved spec's JSON text,
/// a zero byte, and the seed in decimal.
pub fn fingerprint(resolved_spec: &str, seed: u64) -> [u8; DIGEST] {
    let mut hasher = Sha256::new();
    hasher.update(resolved_spec.as_bytes());
    hasher.update([0]);
    hasher.update(seed.to_string().as_bytes());
    hasher.finalize().into()
}

/// The bytes of `checkpoint`, stamped with the run's `fingerprint`.
pub fn encode(checkpoint: &Checkpoint, fingerprint: &[u8; DIGEST]) -> Vec<u8> {
    let values: usize = checkpoint.tensors.iter().map(|t| t.values.len()).sum();
    let mut out = Vec::with_capacity(128 + values * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(fingerprint);
    out.extend_from_slice(&(checkpoint.epoch as u64).to_le_bytes());
    out.extend_from_slice(&checkpoint.step.to_le_bytes());
    out.extend_from_slice(&(checkpoint.scalars.len() as u32).to_le_bytes());
    for (name, value) in &checkpoint.scalars {
        put_str(&mut out, name);
        out.extend_from_slice(&value.to_bits().to_le_bytes());
    }
    out.extend_from_slice(&(checkpoint.tensors.len() as u32).to_le_bytes());
    for tensor in &checkpoint.tensors {
        put_str(&mut out, &tensor.name);
        out.push(tensor.shape.len() as u8);
        for &dim in &tensor.shape {
            out.extend_from_slice(&(dim as u64).to_le_bytes());
        }
        for value in &tensor.values {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    match &checkpoint.within_epoch {
        None => out.push(0),
        Some(progress) => {
            out.push(1);
            out.extend_from_slice(&(progress.batches as u64).to_le_bytes());
            out.extend_from_slice(&progress.loss_sum.to_bits().to_le_bytes());
            for sums in [
                &progress.metric_sums,
                &progress.grad_norm_sums,
                &progress.ratio_sums,
            ] {
                out.extend_from_slice(&(sums.len() as u32).to_le_bytes());
                for sum in sums {
                    out.extend_from_slice(&sum.to_bits().to_le_bytes());
                }
            }
            out.extend_from_slice(&progress.dropout_position.to_le_bytes());
            out.extend_from_slice(&progress.augmentation_position.to_le_bytes());
        }
    }
    let digest: [u8; DIGEST] = Sha256::digest(&out).into();
    out.extend_from_slice(&digest);
    out
}

/// Names and shapes are short: a longer one is cut (it then fails the run's own checks on
/// resume, cleanly, rather than corrupting the framing).
fn put_str(out: &mut Vec<u8>, text: &str) {
    let bytes = &text.as_bytes()[..text.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads bytes written by [`encode`] for the run with this `fingerprint`.
pub fn decode(bytes: &[u8], fingerprint: &[u8; DIGEST]) -> Result<Checkpoint, CheckpointError> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(CheckpointError::NotACheckpoint);
    }
    let version = u16::from_le_bytes([bytes[6], bytes[7]]);
    if version != VERSION {
        return Err(CheckpointError::Version(version));
    }
    if bytes.len() < 8 + DIGEST * 2 {
        return Err(CheckpointError::Malformed("it is truncated".into()));
    }
    let (body, digest) = bytes.split_at(bytes.len() - DIGEST);
    if Sha256::digest(body)[..] != *digest {
        return Err(CheckpointError::Checksum);
    }
    let mut reader = Reader { bytes: body, at: 8 };
    if reader.take(DIGEST)? != fingerprint {
        return Err(CheckpointError::Mismatch);
    }
    let epoch = reader.usize()?;
    let step = reader.u64()?;
    let n_scalars = reader.u32()? as usize;
    let mut scalars = Vec::with_capacity(n_scalars.min(reader.remaining() / 10));
    for _ in 0..n_scalars {
        let name = reader.str()?;
        scalars.push((name, f64::from_bits(reader.u64()?)));
    }
    let n_tensors = reader.u32()? as usize;
    let mut tensors = Vec::with_capacity(n_tensors.min(reader.remaining() / 3));
    for _ in 0..n_tensors {
        let name = reader.str()?;
        let ndim = usize::from(reader.take(1)?[0]);
        let mut shape = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            shape.push(reader.usize()?);
        }
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| CheckpointError::Malformed(format!("tensor `{name}` is too large")))?;
        let raw = reader.take(count.checked_mul(4).ok_or_else(|| {
            CheckpointError::Malformed(format!("tensor `{name}` is too large"))
        })?)?;
        let values = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.push(Tensor {
            name,
            shape,
            values,
        });
    }
    let within_epoch = match reader.take(1)?[0] {
        0 => None,
        1 => Some(EpochProgress {
            batches: reader.usize()?,
            loss_sum: f64::from_bits(reader.u64()?),
            metric_sums: reader.f64s()?,
            grad_norm_sums: reader.f64s()?,
            ratio_sums: reader.f64s()?,
            dropout_position: reader.u128()?,
            augmentation_position: reader.u128()?,
        }),
        other => {
            return Err(CheckpointError::Malformed(format!(
                "unknown epoch-position flag {other}"
            )));
        }
    };
    if reader.remaining() != 0 {
        return Err(CheckpointError::Malformed(format!(
            "{} bytes left over",
            reader.remaining()
        )));
    }
    Ok(Checkpoint {
        epoch,
        step,
        tensors,
        scalars,
        within_epoch,
    })
}

/// A cursor that refuses to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CheckpointError> {
        if n > self.remaining() {
            return Err(CheckpointError::Malformed(format!(
                "it ends early (needed {n} bytes at offset {}, {} left)",
                self.at,
                self.remaining()
            )));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CheckpointError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, CheckpointError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, CheckpointError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn u128(&mut self) -> Result<u128, CheckpointError> {
        Ok(u128::from_le_bytes(self.array()?))
    }

    fn usize(&mut self) -> Result<usize, CheckpointError> {
        let value = self.u64()?;
        usize::try_from(value)
            .map_err(|_| CheckpointError::Malformed(format!("{value} does not fit a usize")))
    }

    fn str(&mut self) -> Result<String, CheckpointError> {
        let len = usize::from(u16::from_le_bytes(self.array()?));
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| CheckpointError::Malformed("a name is not UTF-8".into()))
    }

    fn f64s(&mut self) -> Result<Vec<f64>, CheckpointError> {
        let n = self.u32()? as usize;
        let raw = self
            .take(n.checked_mul(8).ok_or_else(|| {
                CheckpointError::Malformed("a list of sums is too long".into())
            })?)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| f64::from_bits(u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(within: bool) -> Checkpoint {
        Checkpoint {
            epoch: 7,
            step: 91,
            tensors: vec![
                Tensor {
                    name: "layers.0.kernel".into(),
                    shape: vec![2, 3],
                    values: vec![0.5, -1.25, f32::MIN_POSITIVE, 3.0e-9, -0.0, 1.0 / 3.0],
                },
                Tensor {
                    name: "optimizer.layers.0.bias.m".into(),
                    shape: vec![3],
                    values: vec![1.0, 2.0, 3.0],
                },
                Tensor {
                    name: "scalar".into(),
                    shape: Vec::new(),
                    values: vec![4.5],
                },
            ],
            scalars: vec![
                ("optimizer.iterations".into(), 91.0),
                ("early_stopping.best".into(), 0.1f32 as f64),
                ("odd".into(), f64::NEG_INFINITY),
            ],
            within_epoch: within.then(|| EpochProgress {
                batches: 3,
                loss_sum: 12.345_678_901_234_567,
                metric_sums: vec![0.1, 0.2],
                grad_norm_sums: vec![1.0 / 7.0],
                ratio_sums: vec![1e-300],
                dropout_position: (1u128 << 70) + 5,
                augmentation_position: 17,
            }),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_exactly_with_or_without_a_position_inside_an_epoch() {
        let print = fingerprint("{\"epochs\":3}", u64::MAX);
        for within in [false, true] {
            let checkpoint = sample(within);
            let bytes = encode(&checkpoint, &print);
            assert_eq!(&bytes[..6], b"TYCKPT");
            assert_eq!(decode(&bytes, &print), Ok(checkpoint));
        }
    }

    #[test]
    fn any_flipped_bit_or_cut_is_refused_without_a_panic() {
        let print = fingerprint("{}", 1);
        let bytes = encode(&sample(true), &print);
        for index in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[index] ^= 0x10;
            assert!(decode(&corrupt, &print).is_err(), "byte {index} flipped");
        }
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], &print).is_err(), "cut at {len}");
        }
        let mut flipped = bytes.clone();
        let middle = bytes.len() / 2;
        flipped[middle] ^= 1;
        assert_eq!(decode(&flipped, &print), Err(CheckpointError::Checksum));
        assert_eq!(
            decode(b"PK\x03\x04 not a checkpoint at all", &print),
            Err(CheckpointError::NotACheckpoint)
        );
    }

    #[test]
    fn another_version_or_another_run_is_refused_by_name() {
        let print = fingerprint("{\"a\":1}", 5);
        let mut bytes = encode(&sample(false), &print);
        assert_eq!(
            decode(&bytes, &fingerprint("{\"a\":1}", 6)),
            Err(CheckpointError::Mismatch)
        );
        assert_eq!(
            decode(&bytes, &fingerprint("{\"a\":2}", 5)),
            Err(CheckpointError::Mismatch)
        );
        bytes[6] = 2;
        assert_eq!(decode(&bytes, &print), Err(CheckpointError::Version(2)));
    }

    #[test]
    fn well_framed_nonsense_with_a_valid_checksum_is_refused() {
        // A tensor claiming 2^40 values: the lengths are checked against the bytes present.
        let print = fingerprint("{}", 1);
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&VERSION.to_le_bytes());
        body.extend_from_slice(&print);
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.push(b'w');
        body.push(1);
        body.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let digest: [u8; DIGEST] = Sha256::digest(&body).into();
        body.extend_from_slice(&digest);
        assert!(matches!(
            decode(&body, &print),
            Err(CheckpointError::Malformed(_))
        ));
    }
}
