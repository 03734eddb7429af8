"""Online rating (二维码评价): per-ticket rating links and their QR codes, the mobile rating
page, one rating per ticket across channels (一次一评), late and system default ratings
(docs/online-rating.md)."""
