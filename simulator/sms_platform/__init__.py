"""The local SMS platform: speaks the Alibaba Cloud and Tencent Cloud SMS HTTP APIs on 127.0.0.1.

The official SDKs, pointed at it by endpoint, send it real signed requests; it verifies the
signatures, keeps the texts each simulated phone received, reports delivery and hands the phones'
replies back (pull APIs and push callbacks). See docs/sms.md, "Providers".
"""
