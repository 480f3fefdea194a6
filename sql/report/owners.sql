-- Owners with what they own: images in total, vulnerable images and their critical,
-- high and fixable counts, vulnerable images running exposed, and images still to be
-- mapped. Owner '' is the bucket of images no link in the owner chain answered for.
-- Owners with vulnerable images running exposed come first, then the worst ones.
WITH owned AS (
    SELECT * REPLACE (coalesce(owner, '') AS owner) FROM remediation
)
SELECT owner,
       count(*) AS images,
       count(*) FILTER (critical + high + medium + low > 0) AS vulnerable,
       sum(critical)::BIGINT AS critical,
       sum(high)::BIGINT AS high,
       sum(fixable)::BIGINT AS fixable,
       count(*) FILTER (exposed AND critical + high > 0) AS exposed_high,
       count(*) FILTER (status <> 'mapped') AS unresolved_count
FROM owned
GROUP BY owner
ORDER BY exposed_high DESC, critical DESC, high DESC, vulnerable DESC, owner = '', owner;
