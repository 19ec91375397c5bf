//! Helpers shared by the hand-written codec implementations.

use commonware_codec::{Buf, Error, Read, ReadRangeExt};

/// Reads a length-prefixed byte string of at most `max` bytes.
pub(crate) fn read_bytes(buf: &mut impl Buf, max: usize) -> Result<Vec<u8>, Error> {
    Vec::<u8>::read_range(buf, 0..=max)
}

/// Reads a length-prefixed vector of at most `max` items whose own config is `()`.
pub(crate) fn read_vec<T: Read<Cfg = ()>>(buf: &mut impl Buf, max: usize) -> Result<Vec<T>, Error> {
    Vec::<T>::read_range(buf, 0..=max)
}

/// Implements `Write`, `EncodeSize` and `Read` (with `Cfg = ()`) for a struct by writing its
/// fields in the order listed. Every field type must itself be `Read<Cfg = ()>`.
macro_rules! codec_struct {
    ($name:ident { $($field:ident : $ty:ty),+ $(,)? }) => {
        impl commonware_codec::Write for $name {
            fn write(&self, buf: &mut impl bytes::BufMut) {
                $(commonware_codec::Write::write(&self.$field, buf);)+
            }
        }
        impl commonware_codec::EncodeSize for $name {
            fn encode_size(&self) -> usize {
                0 $(+ commonware_codec::EncodeSize::encode_size(&self.$field))+
            }
        }
        impl commonware_codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl commonware_codec::Buf,
                _: &(),
            ) -> Result<Self, commonware_codec::Error> {
                Ok(Self { $($field: <$ty as commonware_codec::Read>::read_cfg(buf, &())?,)+ })
            }
        }
    };
}
pub(crate) use codec_struct;
