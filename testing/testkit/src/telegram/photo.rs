//! Photos as Telegram stores them: the upload must decode as an image (its header is read for the
//! dimensions), and the photo is kept as several sizes, each its own file. Telegram's sizes
//! scale the longest side down to 90 (`s`), 320 (`m`), 800 (`x`), 1280 (`y`) and 2560 (`w`)
//! pixels, only where that is smaller than the original; the largest size is the original,
//! itself capped at 2560 pixels.
//!
//! The fake does not resample or re-encode: every size downloads the uploaded bytes, and its
//! `file_size` (in the message and in `getFile`) is their length.

use super::error::ApiError;

/// Telegram's thumbnail boxes (longest side, pixels) and their `type` letters.
const BOXES: [(u32, &str); 5] = [(90, "s"), (320, "m"), (800, "x"), (1280, "y"), (2560, "w")];

/// Telegram refuses photos whose width plus height exceeds this…
const MAX_SIDES_SUM: u64 = 10_000;
/// …or whose sides differ by more than this ratio.
const MAX_RATIO: u64 = 20;

/// One size of a stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhotoSize {
    pub kind: &'static str,
    pub width: u32,
    pub height: u32,
    pub file_size: usize,
}

/// Width and height from the image's header, or Telegram's refusal.
pub(crate) fn dimensions(data: &[u8]) -> Result<(u32, u32), ApiError> {
    let size =
        imagesize::blob_size(data).map_err(|_| ApiError::bad_request("IMAGE_PROCESS_FAILED"))?;
    let (w, h) = (
        u32::try_from(size.width).unwrap_or(u32::MAX),
        u32::try_from(size.height).unwrap_or(u32::MAX),
    );
    if w == 0 || h == 0 {
        return Err(ApiError::bad_request("IMAGE_PROCESS_FAILED"));
    }
    let (long, short) = (u64::from(w.max(h)), u64::from(w.min(h)));
    if long + short > MAX_SIDES_SUM || long > short * MAX_RATIO {
        return Err(ApiError::bad_request("PHOTO_INVALID_DIMENSIONS"));
    }
    Ok((w, h))
}

/// The sizes Telegram keeps of a `width` × `height` photo of `len` bytes, smallest first.
pub(crate) fn sizes(width: u32, height: u32, len: usize) -> Vec<PhotoSize> {
    let long = width.max(height);
    let scaled = |target: u32| -> (u32, u32) {
        let s = |side: u32| {
            let v = (u64::from(side) * u64::from(target) + u64::from(long) / 2) / u64::from(long);
            u32::try_from(v).unwrap_or(u32::MAX).max(1)
        };
        (s(width), s(height))
    };
    let mut out = Vec::new();
    for (target, kind) in BOXES {
        if target < long {
            let (w, h) = scaled(target);
            out.push(PhotoSize {
                kind,
                width: w,
                height: h,
                file_size: len,
            });
        }
    }
    if long <= BOXES[BOXES.len() - 1].0 {
        let kind = BOXES
            .iter()
            .find(|(b, _)| long <= *b)
            .map_or("w", |(_, k)| *k);
        out.push(PhotoSize {
            kind,
            width,
            height,
            file_size: len,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(v: &[PhotoSize]) -> Vec<(&str, u32, u32)> {
        v.iter().map(|s| (s.kind, s.width, s.height)).collect()
    }

    #[test]
    fn sizes_follow_telegrams_boxes() {
        assert_eq!(dims(&sizes(40, 30, 100)), vec![("s", 40, 30)]);
        assert_eq!(
            dims(&sizes(1000, 750, 1000)),
            vec![
                ("s", 90, 68),
                ("m", 320, 240),
                ("x", 800, 600),
                ("y", 1000, 750)
            ]
        );
        assert_eq!(
            dims(&sizes(3000, 2000, 1000)),
            vec![
                ("s", 90, 60),
                ("m", 320, 213),
                ("x", 800, 533),
                ("y", 1280, 853),
                ("w", 2560, 1707)
            ]
        );
        assert_eq!(dims(&sizes(800, 600, 10)).last(), Some(&("x", 800, 600)));
    }

    #[test]
    fn any_bytes_are_answered_without_a_panic() {
        // Headers of every format the reader knows, cut short and followed by noise.
        let magics: [&[u8]; 12] = [
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
            b"\xFF\xD8\xFF\xE0\0\x10JFIF",
            b"\xFF\xD8\xFF\xC0\0\x11\x08",
            b"GIF89a",
            b"BM",
            b"RIFF\0\0\0\0WEBPVP8X",
            b"\0\0\0\x18ftypheic",
            b"II*\0",
            b"MM\0*",
            b"\0\0\x01\0",
            b"8BPS",
            b"qoif",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let full = super::super::png(300, 200);
        for round in 0..3000 {
            let mut data = magics[round % magics.len()].to_vec();
            let noise = (next() % 64) as usize;
            data.extend((0..noise).map(|_| next() as u8));
            let _ = dimensions(&data);
            let cut = (next() as usize) % data.len();
            let _ = dimensions(&data[..cut]);
            let _ = dimensions(&full[..(next() as usize) % full.len()]);
        }
    }

    #[test]
    fn only_images_with_sane_dimensions_pass() {
        assert_eq!(dimensions(&super::super::png(40, 30)), Ok((40, 30)));
        let refused = |d: &[u8]| dimensions(d).expect_err("refused").description;
        assert_eq!(
            refused(b"not an image"),
            "Bad Request: IMAGE_PROCESS_FAILED"
        );
        assert_eq!(refused(&[]), "Bad Request: IMAGE_PROCESS_FAILED");
        assert_eq!(
            refused(&super::super::png(2100, 100)),
            "Bad Request: PHOTO_INVALID_DIMENSIONS"
        );
    }
}
