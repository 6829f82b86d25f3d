"""bucketlens worker: EXIF and Rekognition results for the images of an S3 bucket."""

__version__ = "0.1.0"
